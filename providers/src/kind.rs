//! The provider types a tenant can register, with their default endpoints.

use std::fmt;
use std::str::FromStr;

/// A provider's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OpenAi,
    AzureOpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Ollama,
}

/// A type name that is none of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider type {0:?} (one of: openai, azure-openai, anthropic, gemini, bedrock, ollama)")]
pub struct UnknownKind(pub String);

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::OpenAi,
        ProviderKind::AzureOpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Bedrock,
        ProviderKind::Ollama,
    ];

    /// The name used on the wire and in the registry.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::AzureOpenAi => "azure-openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Ollama => "ollama",
        }
    }

    /// The endpoint used when a provider is registered without one; `None` where there is no
    /// public default (Azure resources are per customer; Bedrock needs a region).
    pub fn default_endpoint(self, region: Option<&str>) -> Option<String> {
        match self {
            ProviderKind::OpenAi => Some("https://api.openai.com/v1".to_owned()),
            ProviderKind::AzureOpenAi => None,
            ProviderKind::Anthropic => Some("https://api.anthropic.com".to_owned()),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com".to_owned()),
            ProviderKind::Bedrock => {
                region.map(|region| format!("https://bedrock-runtime.{region}.amazonaws.com"))
            }
            ProviderKind::Ollama => Some("http://localhost:11434".to_owned()),
        }
    }

    /// Whether calls need a stored credential.
    pub fn needs_credentials(self) -> bool {
        !matches!(self, ProviderKind::Ollama)
    }
}

impl FromStr for ProviderKind {
    type Err = UnknownKind;

    fn from_str(name: &str) -> Result<ProviderKind, UnknownKind> {
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownKind(name.to_owned()))
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
