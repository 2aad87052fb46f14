-- The system policy catalogue. Must equal `axonflow_policy::system_policies()`; a platform test
-- compares the two.
INSERT INTO static_policies
    (id, policy_id, tenant_id, name, description, category, tier, detector_kind, pattern, action, severity, priority, tags, frameworks)
VALUES
    ('0192f000-0000-7000-8000-000000000001', 'sys_pii_ssn', NULL, 'Social Security Number',
     'US Social Security number valid under SSA rules; bare 9-digit numbers only next to an SSN context word.',
     'pii-us', 'system', 'builtin', 'us_ssn', 'block', 'critical', 100, '{pii,us}', '{HIPAA,GDPR}'),
    ('0192f000-0000-7000-8000-000000000002', 'sys_pii_credit_card', NULL, 'Credit card number',
     'Payment card number of a known network (Visa, Mastercard, Amex, Discover, JCB, Diners, Maestro) passing the Luhn check.',
     'pii-global', 'system', 'builtin', 'credit_card', 'block', 'critical', 100, '{pii,pci-dss}', '{PCI-DSS,GDPR}'),
    ('0192f000-0000-7000-8000-000000000003', 'sys_sqli_union_select', NULL, 'SQL injection (UNION-based)',
     'UNION SELECT used to append attacker-chosen rows to a query.',
     'security-sqli', 'system', 'builtin', 'sqli_union_select', 'block', 'critical', 90, '{sqli}', '{}'),
    ('0192f000-0000-7000-8000-000000000004', 'sys_sqli_or_true', NULL, 'SQL injection (tautology)',
     'Always-true condition such as OR 1=1 or '' OR ''a''=''a.',
     'security-sqli', 'system', 'builtin', 'sqli_tautology', 'block', 'critical', 90, '{sqli}', '{}'),
    ('0192f000-0000-7000-8000-000000000005', 'sys_sqli_stacked_drop', NULL, 'SQL injection (stacked query)',
     'A second statement stacked after a semicolon, such as ''; DROP TABLE users.',
     'security-sqli', 'system', 'builtin', 'sqli_stacked_query', 'block', 'critical', 90, '{sqli}', '{}'),
    ('0192f000-0000-7000-8000-000000000006', 'sys_sqli_comment', NULL, 'SQL injection (comment truncation)',
     'A closing quote followed by a comment that cuts off the rest of the query, such as admin''--.',
     'security-sqli', 'system', 'builtin', 'sqli_comment_truncation', 'block', 'high', 80, '{sqli}', '{}'),
    ('0192f000-0000-7000-8000-000000000007', 'sys_sqli_time_based', NULL, 'SQL injection (time-based)',
     'Time-based blind injection: SLEEP, pg_sleep, BENCHMARK, WAITFOR DELAY.',
     'security-sqli', 'system', 'builtin', 'sqli_time_based', 'block', 'critical', 90, '{sqli}', '{}')
ON CONFLICT DO NOTHING;
