-- Payout methods (issue 10, ADR 0018): where a partner's payouts go. See crates/trellis-incentives
-- (`payout_methods`).

-- One method per partner, replaced in place (its id stays). The account holder and the IBAN are
-- stored sealed (AES-256-GCM under the instance's TRELLIS_SECRET_KEY, `v1:` and hex of nonce and
-- ciphertext); the IBAN's country and last four characters are kept in clear beside them so that
-- every masked display reads without the key. `cooling_off_until` holds the partner's payouts
-- after a replacement; a first method has none.
CREATE TABLE payout_methods (
    workspace_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('sepa')),
    account_holder_sealed TEXT NOT NULL CHECK (account_holder_sealed LIKE 'v1:%'),
    iban_sealed TEXT NOT NULL CHECK (iban_sealed LIKE 'v1:%'),
    iban_country TEXT NOT NULL CHECK (length(iban_country) = 2),
    iban_last4 TEXT NOT NULL CHECK (length(iban_last4) = 4),
    bic TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    cooling_off_until INTEGER,
    PRIMARY KEY (workspace_id, partner_id),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
