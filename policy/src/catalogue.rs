//! The system policy catalogue: every built-in policy with its id, category, severity and compliance
//! frameworks. Seeded into Postgres by the migrations with the same ids (a platform test compares them);
//! `examples/catalogue_sql.rs` prints the seed statement.

use crate::spec::{Action, DetectorSpec, PolicySpec, Severity, Tier};

/// One row of the system catalogue.
struct SystemPolicy {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    category: &'static str,
    detector: &'static str,
    severity: Severity,
    priority: i32,
    tags: &'static [&'static str],
    frameworks: &'static [&'static str],
    action: Action,
}

const SYSTEM_POLICIES: &[SystemPolicy] = &[
    SystemPolicy {
        id: "sys_pii_ssn",
        name: "Social Security Number",
        description: "US Social Security number valid under SSA rules (area, group, serial); bare 9-digit numbers only next to an SSN context word.",
        category: "pii-us",
        detector: "us_ssn",
        severity: Severity::Critical,
        priority: 100,
        tags: &["pii", "us"],
        frameworks: &["HIPAA"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_credit_card",
        name: "Credit card number",
        description: "Payment card number of a known network (Visa, Mastercard, Amex, Discover, JCB, Diners, Maestro) passing the Luhn check; plain, spaced or dashed.",
        category: "pii-global",
        detector: "credit_card",
        severity: Severity::Critical,
        priority: 100,
        tags: &["pii", "pci-dss"],
        frameworks: &["PCI-DSS", "GDPR", "MAS FEAT"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_email",
        name: "E-mail address",
        description: "E-mail address.",
        category: "pii-global",
        detector: "email",
        severity: Severity::Medium,
        priority: 60,
        tags: &["pii"],
        frameworks: &["GDPR", "EU AI Act", "HIPAA"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_phone",
        name: "Phone number",
        description: "Phone number valid under its numbering plan: international (E.164 or spaced), US, and the national forms of the covered plans (trunk prefix and grouping); never a date or time; bare digit runs only with a phone context word or as a trunk-prefixed mobile.",
        category: "pii-global",
        detector: "phone",
        severity: Severity::Medium,
        priority: 60,
        tags: &["pii"],
        frameworks: &["GDPR", "EU AI Act", "HIPAA"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_ip_address",
        name: "IP address",
        description: "IPv4 or IPv6 address used as an address (not a software version).",
        category: "pii-global",
        detector: "ip_address",
        severity: Severity::Low,
        priority: 40,
        tags: &["pii", "network"],
        frameworks: &["GDPR"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_iban",
        name: "IBAN",
        description: "International bank account number in any case, compact or grouped, with a valid country format and mod-97 check digits.",
        category: "pii-eu",
        detector: "iban",
        severity: Severity::High,
        priority: 80,
        tags: &["pii", "financial"],
        frameworks: &["GDPR", "MAS FEAT"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_passport",
        name: "US passport number",
        description: "US passport number (9 digits, or a letter and 8 digits) next to a passport context word.",
        category: "pii-us",
        detector: "us_passport",
        severity: Severity::High,
        priority: 80,
        tags: &["pii", "us"],
        frameworks: &["GDPR"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_uk_nino",
        name: "UK National Insurance number",
        description: "UK National Insurance number with a valid HMRC prefix and suffix.",
        category: "pii-eu",
        detector: "uk_nino",
        severity: Severity::High,
        priority: 80,
        tags: &["pii", "uk"],
        frameworks: &["GDPR"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_aadhaar",
        name: "Aadhaar number",
        description: "Indian Aadhaar number: 12 digits, first digit 2-9, valid Verhoeff check digit.",
        category: "pii-india",
        detector: "aadhaar",
        severity: Severity::Critical,
        priority: 100,
        tags: &["pii", "india", "rbi"],
        frameworks: &["RBI"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_pan",
        name: "PAN",
        description: "Indian Permanent Account Number (AAAPA9999A) with a valid holder-type fourth letter; case-sensitive.",
        category: "pii-india",
        detector: "india_pan",
        severity: Severity::High,
        priority: 80,
        tags: &["pii", "india", "rbi", "sebi"],
        frameworks: &["RBI", "SEBI"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_upi",
        name: "UPI id",
        description: "Indian UPI virtual payment address on a known payment-service handle (not an e-mail address).",
        category: "pii-india",
        detector: "upi_id",
        severity: Severity::High,
        priority: 80,
        tags: &["pii", "india", "rbi"],
        frameworks: &["RBI"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_dob",
        name: "Date of birth",
        description: "A date next to a date-of-birth context word.",
        category: "pii-global",
        detector: "date_of_birth",
        severity: Severity::Medium,
        priority: 60,
        tags: &["pii"],
        frameworks: &["HIPAA", "GDPR"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_bank_account",
        name: "Bank account number",
        description: "Bank account number (8-17 digits) right after an account context word.",
        category: "pii-global",
        detector: "bank_account",
        severity: Severity::High,
        priority: 80,
        tags: &["pii", "financial"],
        frameworks: &["GDPR", "MAS FEAT"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_aba_routing",
        name: "ABA routing number",
        description: "US bank routing number with a valid ABA checksum, next to a routing context word.",
        category: "pii-us",
        detector: "aba_routing",
        severity: Severity::Medium,
        priority: 60,
        tags: &["pii", "financial", "us"],
        frameworks: &["MAS FEAT"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_pii_medical_record",
        name: "Medical record number",
        description: "Medical record number after an MRN context word.",
        category: "pii-us",
        detector: "medical_record_number",
        severity: Severity::High,
        priority: 80,
        tags: &["pii", "health"],
        frameworks: &["HIPAA"],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_compliance_ifsc",
        name: "IFSC code",
        description: "Indian Financial System Code of a bank branch; recorded for RBI reporting.",
        category: "compliance-rbi",
        detector: "ifsc",
        severity: Severity::Low,
        priority: 20,
        tags: &["india", "rbi"],
        frameworks: &["RBI"],
        action: Action::Warn,
    },
    SystemPolicy {
        id: "sys_secret_aws_access_key",
        name: "AWS access key id",
        description: "AWS access key id (AKIA..., ASIA...).",
        category: "security-secrets",
        detector: "aws_access_key_id",
        severity: Severity::Critical,
        priority: 95,
        tags: &["secrets", "aws"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_secret_aws_secret_key",
        name: "AWS secret access key",
        description: "AWS secret access key in an assignment (aws_secret_access_key = ...).",
        category: "security-secrets",
        detector: "aws_secret_access_key",
        severity: Severity::Critical,
        priority: 95,
        tags: &["secrets", "aws"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_secret_openai_key",
        name: "OpenAI API key",
        description: "OpenAI API key (sk-..., sk-proj-...).",
        category: "security-secrets",
        detector: "openai_api_key",
        severity: Severity::Critical,
        priority: 95,
        tags: &["secrets"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_secret_anthropic_key",
        name: "Anthropic API key",
        description: "Anthropic API key (sk-ant-...).",
        category: "security-secrets",
        detector: "anthropic_api_key",
        severity: Severity::Critical,
        priority: 95,
        tags: &["secrets"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_secret_github_token",
        name: "GitHub token",
        description: "GitHub personal access, OAuth, app or fine-grained token.",
        category: "security-secrets",
        detector: "github_token",
        severity: Severity::Critical,
        priority: 95,
        tags: &["secrets"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_secret_slack_token",
        name: "Slack token",
        description: "Slack bot, user, app or refresh token (xox...).",
        category: "security-secrets",
        detector: "slack_token",
        severity: Severity::Critical,
        priority: 95,
        tags: &["secrets"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_secret_private_key",
        name: "Private key block",
        description: "PEM or OpenSSH private key block.",
        category: "security-secrets",
        detector: "private_key_block",
        severity: Severity::Critical,
        priority: 95,
        tags: &["secrets"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_secret_jwt",
        name: "JSON Web Token",
        description: "A signed JSON Web Token (three base64url parts).",
        category: "security-secrets",
        detector: "jwt",
        severity: Severity::High,
        priority: 85,
        tags: &["secrets"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_union_select",
        name: "SQL injection (UNION-based)",
        description: "UNION SELECT used to append attacker-chosen rows to a query.",
        category: "security-sqli",
        detector: "sqli_union_select",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_syntax",
        name: "SQL injection (by technique)",
        description: "SQL read as a database would after a broken-out value: conditions over constants, database functions or subqueries (blind, error and time based), UNION, stacked statements, ORDER BY probing, after decoding and comment removal.",
        category: "security-sqli",
        detector: "sqli_syntax",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_or_true",
        name: "SQL injection (tautology)",
        description: "Always-true condition such as OR 1=1 or ' OR 'a'='a.",
        category: "security-sqli",
        detector: "sqli_tautology",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_quote_breakout",
        name: "SQL injection (quote breakout)",
        description: "An unbalanced quote that closes a value and continues with SQL (' OR ..., \") AND ..., 1' ORDER BY ...).",
        category: "security-sqli",
        detector: "sqli_quote_breakout",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_stacked_drop",
        name: "SQL injection (stacked query)",
        description: "A second statement stacked after a semicolon, such as '; DROP TABLE users.",
        category: "security-sqli",
        detector: "sqli_stacked_query",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_comment",
        name: "SQL injection (comment truncation)",
        description: "A closing quote followed by a comment that cuts off the rest of the query (admin'--), or ORDER BY column probing.",
        category: "security-sqli",
        detector: "sqli_comment_truncation",
        severity: Severity::High,
        priority: 80,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_time_based",
        name: "SQL injection (time-based)",
        description: "Time-based blind injection: SLEEP, pg_sleep, BENCHMARK, WAITFOR DELAY, DBMS_PIPE, heavy queries.",
        category: "security-sqli",
        detector: "sqli_time_based",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_error_based",
        name: "SQL injection (error-based)",
        description: "Error-based extraction: EXTRACTVALUE, UPDATEXML, CONVERT/CAST of a subquery, EXP(~...), XML and geometry functions.",
        category: "security-sqli",
        detector: "sqli_error_based",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_encoded",
        name: "SQL injection (URL or hex encoded)",
        description: "URL- or hex-escaped text that decodes to an injection.",
        category: "security-sqli",
        detector: "sqli_encoded",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_char_concat",
        name: "SQL injection (CHAR() obfuscation)",
        description: "Strings built from concatenated CHAR()/CHR() codes.",
        category: "security-sqli",
        detector: "sqli_char_concat",
        severity: Severity::High,
        priority: 80,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_hex_literal",
        name: "SQL injection (hex literal)",
        description: "Long hexadecimal literals inside SQL (CONCAT(0x7176...)).",
        category: "security-sqli",
        detector: "sqli_hex_literal",
        severity: Severity::High,
        priority: 80,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_sqli_boolean_inference",
        name: "SQL injection (boolean inference)",
        description: "Blind-injection probes: constant comparisons inside CASE WHEN / IF / ELT, boolean subqueries, @@version.",
        category: "security-sqli",
        detector: "sqli_boolean_inference",
        severity: Severity::Critical,
        priority: 90,
        tags: &["sqli"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_drop",
        name: "DROP statement",
        description: "DROP TABLE, DATABASE, SCHEMA, VIEW, INDEX, USER or ROLE.",
        category: "security-dangerous",
        detector: "sql_drop",
        severity: Severity::Critical,
        priority: 85,
        tags: &["dangerous", "ddl"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_truncate",
        name: "TRUNCATE statement",
        description: "TRUNCATE of a table.",
        category: "security-dangerous",
        detector: "sql_truncate",
        severity: Severity::Critical,
        priority: 85,
        tags: &["dangerous", "ddl"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_delete_all",
        name: "DELETE without WHERE",
        description: "DELETE FROM a table with no WHERE clause.",
        category: "security-dangerous",
        detector: "sql_delete_all",
        severity: Severity::Critical,
        priority: 85,
        tags: &["dangerous", "dml"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_alter",
        name: "ALTER statement",
        description: "ALTER TABLE, USER, DATABASE, SCHEMA, ROLE or LOGIN.",
        category: "security-dangerous",
        detector: "sql_alter",
        severity: Severity::High,
        priority: 80,
        tags: &["dangerous", "ddl"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_grant_revoke",
        name: "GRANT or REVOKE",
        description: "Privilege changes: GRANT or REVOKE.",
        category: "security-dangerous",
        detector: "sql_grant_revoke",
        severity: Severity::Critical,
        priority: 85,
        tags: &["dangerous", "dcl"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_create_user",
        name: "CREATE USER",
        description: "CREATE USER, LOGIN or ROLE.",
        category: "security-dangerous",
        detector: "sql_create_user",
        severity: Severity::Critical,
        priority: 85,
        tags: &["dangerous", "dcl"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_admin_info_schema",
        name: "System catalogue read",
        description: "Reads of system catalogues: information_schema, pg_catalog, pg_shadow, mysql.user, sys.*, sqlite_master, dba_users.",
        category: "security-dangerous",
        detector: "sql_system_catalog",
        severity: Severity::High,
        priority: 80,
        tags: &["dangerous", "catalog"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_credentials",
        name: "Credential read",
        description: "Queries that read passwords, secrets or tokens.",
        category: "security-dangerous",
        detector: "sql_credentials",
        severity: Severity::Critical,
        priority: 85,
        tags: &["dangerous", "credentials"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_dangerous_file_access",
        name: "Database file access",
        description: "File and command access from SQL: LOAD_FILE, INTO OUTFILE, LOAD DATA INFILE, COPY ... TO, pg_read_file, xp_cmdshell.",
        category: "security-dangerous",
        detector: "sql_file_access",
        severity: Severity::Critical,
        priority: 85,
        tags: &["dangerous", "file"],
        frameworks: &[],
        action: Action::Block,
    },
    SystemPolicy {
        id: "sys_admin_objects",
        name: "Admin object access",
        description: "SQL against admin tables or administrative functions (sp_configure, pg_terminate_backend, SET ROLE admin).",
        category: "security-admin",
        detector: "sql_admin_objects",
        severity: Severity::High,
        priority: 80,
        tags: &["admin"],
        frameworks: &[],
        action: Action::Block,
    },
];

/// The system policies, as seeded into `static_policies`.
pub fn system_policies() -> Vec<PolicySpec> {
    SYSTEM_POLICIES
        .iter()
        .map(|p| PolicySpec {
            id: p.id.to_owned(),
            name: p.name.to_owned(),
            description: p.description.to_owned(),
            category: p.category.to_owned(),
            tier: Tier::System,
            detector: DetectorSpec::Builtin(p.detector.to_owned()),
            action: p.action,
            severity: p.severity,
            priority: p.priority,
            enabled: true,
            tags: p.tags.iter().map(|t| (*t).to_owned()).collect(),
            frameworks: p.frameworks.iter().map(|f| (*f).to_owned()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{Action, CompileOptions, Engine, Verdict};

    use super::*;

    fn engine() -> Engine {
        Engine::compile(&system_policies(), CompileOptions::default())
            .expect("system policies compile")
    }

    /// Asserts which policies match `text`, in order of position.
    #[track_caller]
    fn check(text: &str, expected: &[&str]) {
        let decision = engine().evaluate(text);
        let ids: Vec<&str> = decision.matches.iter().map(|m| &*m.policy_id).collect();
        assert_eq!(ids, expected, "text: {text:?}");
    }

    #[test]
    fn ssn() {
        check("My SSN is 123-45-6789", &["sys_pii_ssn"]);
        check("ssn 123 45 6789", &["sys_pii_ssn"]);
        check("social security number: 123456789", &["sys_pii_ssn"]);
        check("order number 123456789", &[]);
        check(
            "000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000",
            &[],
        );
        check("ref 2024-123-45-6789", &[]);
        check(
            "two: 123-45-6789 and 234-56-7890",
            &["sys_pii_ssn", "sys_pii_ssn"],
        );
    }

    #[test]
    fn payment_cards() {
        check("card 4111 1111 1111 1111", &["sys_pii_credit_card"]);
        check("card 4111-1111-1111-1111", &["sys_pii_credit_card"]);
        check("card 4111111111111111", &["sys_pii_credit_card"]);
        check("amex 378282246310005", &["sys_pii_credit_card"]);
        check(
            "mc 5555555555554444 and 2223003122003222",
            &["sys_pii_credit_card", "sys_pii_credit_card"],
        );
        check("discover 6011111111111117", &["sys_pii_credit_card"]);
        check("jcb 3530111333300000", &["sys_pii_credit_card"]);
        check("diners 30569309025904", &["sys_pii_credit_card"]);
        check("luhn fails 4111 1111 1111 1112", &[]);
        check("unknown network 9111111111111111", &[]);
        check("mixed 4111 1111-1111 1111", &[]);
    }

    #[test]
    fn other_personal_data() {
        check("write to jane.doe@example.co.uk today", &["sys_pii_email"]);
        check("decorated with @jsmith", &[]);
        check("Call me at +14155552671 tonight", &["sys_pii_phone"]);
        check("My mobile number is (415) 555-2671.", &["sys_pii_phone"]);
        check("the order 4155552671 shipped", &[]);
        check(
            "Block IP 71.132.251.147 on the firewall.",
            &["sys_pii_ip_address"],
        );
        check("Please upgrade the agent to version 1.5.55.74", &[]);
        check(
            "server at 2001:db8::8a2e:370:7334 is down",
            &["sys_pii_ip_address"],
        );
        check("the meeting is at 10:30:45", &[]);
        check("IBAN DE89 3704 0044 0532 0130 00 please", &["sys_pii_iban"]);
        check("IBAN DE88 3704 0044 0532 0130 00 please", &[]);
        check("Aadhaar 2363 4770 4508", &[]);
        check("My PAN is ABCPE1234F", &["sys_pii_pan"]);
        check("SKU ABCYE1234F is out of stock", &[]);
        check("my pan is abcpe1234f", &[]);
        check("US passport 502410351", &["sys_pii_passport"]);
        check("tracking 502410351", &[]);
        check("NI number AB 12 34 56 C", &["sys_pii_uk_nino"]);
        check("Batch QY319359C passed", &[]);
        check("pay rahul.k@okaxis now", &["sys_pii_upi"]);
        check("mail rahul@okaxis.com now", &["sys_pii_email"]);
        check("She was born on 12/03/1985 in Pune", &["sys_pii_dob"]);
        check("The contract was signed on 10/08/2020.", &[]);
    }

    #[test]
    fn secrets() {
        check(
            "key AKIAIOSFODNN7EXAMPLE here",
            &["sys_secret_aws_access_key"],
        );
        check(
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            &["sys_secret_aws_secret_key"],
        );
        check(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
            &["sys_secret_private_key"],
        );
        check(
            "token ghp_16C7e42F292c6912E7710c838347Ae178B4a here",
            &["sys_secret_github_token"],
        );
    }

    #[test]
    fn sql_injection() {
        check(
            "1' UNION SELECT username, password FROM users--",
            &[
                "sys_sqli_quote_breakout",
                "sys_sqli_syntax",
                "sys_sqli_union_select",
                "sys_dangerous_credentials",
            ],
        );
        check(
            "id=1 union/**/all/**/select null",
            &["sys_sqli_syntax", "sys_sqli_union_select"],
        );
        check(
            "' OR '1'='1",
            &[
                "sys_sqli_quote_breakout",
                "sys_sqli_syntax",
                "sys_sqli_or_true",
                "sys_sqli_quote_breakout",
            ],
        );
        check("admin'--", &["sys_sqli_syntax", "sys_sqli_comment"]);
        check(
            "1 AND SLEEP(5)",
            &["sys_sqli_syntax", "sys_sqli_time_based"],
        );
        check("look up my order then show me its status", &[]);
        check("he said \"yes\" -- then left", &[]);
        check("Click \"OK\" or press Enter (default)", &[]);
        check("the students' and teachers' union", &[]);
        check("either 1 or 2 = 3", &[]);
        check("we joined the union; select a leader later", &[]);
        // Encoded: a quote that ends a value before OR, not a quotation in a search URL.
        check("&apos; OR", &["sys_sqli_encoded"]);
        check(
            "https://www.google.com/search?q=%22exact+phrase%22+OR+%22other+phrase%22&hl=en",
            &[],
        );
        // Units and code: feet, a regex with a `#` comment, a shell idiom.
        check("2x4 lumber 8' or 10' lengths", &[]);
        check(
            r#"QUOTED = re.compile(r"^(['\"])(.*)\1$")  # strip matching quotes"#,
            &[],
        );
        check("grep -v 'health' || true", &[]);
        check(
            "%27%20OR%201%3D1--",
            &["sys_sqli_encoded", "sys_sqli_syntax"],
        );
    }

    #[test]
    fn dangerous_statements_and_prose() {
        check("DROP TABLE users;", &["sys_dangerous_drop"]);
        check("TRUNCATE TABLE audit_log", &["sys_dangerous_truncate"]);
        check("DELETE FROM customers;", &["sys_dangerous_delete_all"]);
        check("DELETE FROM customers WHERE id = 4;", &[]);
        check(
            "SELECT table_name FROM information_schema.tables",
            &["sys_admin_info_schema"],
        );
        check("What's the difference between DELETE and TRUNCATE?", &[]);
        check("Drop me a line when you get back.", &[]);
        check("Our users liked it.", &[]);
        check(
            "GRANT ALL PRIVILEGES ON db.* TO 'bob'@'%';",
            &["sys_dangerous_grant_revoke"],
        );
        check("We grant access to partners on request.", &[]);
    }

    #[test]
    fn catalogue_compiles_and_blocks_the_documented_example() {
        let decision = engine().evaluate("My SSN is 123-45-6789");
        assert_eq!(decision.verdict, Verdict::Deny);
        assert_eq!(
            decision.block_reason().as_deref(),
            Some("Social Security Number detected")
        );
        assert_eq!(decision.matches[0].preview, "***-**-6789");
        assert_eq!(decision.frameworks(), ["HIPAA"]);
    }

    #[test]
    fn redaction_keeps_every_other_byte() {
        let options = CompileOptions {
            pii_action: Some(Action::Redact),
            ..CompileOptions::default()
        };
        let engine = Engine::compile(&system_policies(), options).expect("compiles");
        let decision = engine.evaluate("SSN 123-45-6789, card 4111 1111 1111 1111.");
        assert_eq!(decision.verdict, Verdict::Allow);
        assert_eq!(
            decision.redacted_text.as_deref(),
            Some("SSN [REDACTED:SSN], card [REDACTED:CREDIT_CARD].")
        );
    }

    #[test]
    fn every_match_can_be_masked_whatever_its_action() {
        let text = "SSN 123-45-6789, mail jane.doe@example.com, ok";
        let decision = engine().evaluate(text);
        assert_eq!(decision.redacted_text, None, "block actions do not redact");
        assert_eq!(
            decision.mask_every_match(text),
            "SSN [REDACTED:SSN], mail [REDACTED:EMAIL], ok"
        );
        assert_eq!(
            engine()
                .evaluate("nothing here")
                .mask_every_match("nothing here"),
            "nothing here"
        );
    }

    #[test]
    fn pathological_inputs_finish() {
        let engine = engine();
        let inputs = [
            "9".repeat(200_000),
            "'".repeat(200_000),
            "1-".repeat(100_000),
            "(".repeat(100_000),
            "union ".repeat(50_000),
            "%27".repeat(60_000),
            "a@".repeat(100_000),
            "' or ".repeat(40_000),
        ];
        for input in &inputs {
            let decision = engine.evaluate(input);
            assert!(decision.matches.len() <= input.len());
        }
    }
}
