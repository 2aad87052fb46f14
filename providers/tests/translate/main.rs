//! Translation tests through the public interface: golden request and answer translations per
//! provider type, refused requests, error answers, signing and credential redaction.

mod anthropic;
mod bedrock;
mod common;
mod errors;
mod gemini;
mod ollama;
mod openai;
