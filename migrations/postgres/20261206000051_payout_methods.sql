-- Payout methods (issue 10, ADR 0018): where a partner's payouts go. See crates/trellis-incentives
-- (`payout_methods`).

-- One method per partner, replaced in place (its id stays). The account holder and the IBAN are
-- stored sealed (AES-256-GCM under the instance's TRELLIS_SECRET_KEY, `v1:` and hex of nonce and
-- ciphertext); the IBAN's country and last four characters are kept in clear beside them so that
-- every masked display reads without the key. `cooling_off_until` holds the partner's payouts
-- after a replacement; a first method has none.
CREATE TABLE payout_methods (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('sepa')),
    account_holder_sealed TEXT NOT NULL CHECK (account_holder_sealed LIKE 'v1:%'),
    iban_sealed TEXT NOT NULL CHECK (iban_sealed LIKE 'v1:%'),
    iban_country TEXT NOT NULL CHECK (length(iban_country) = 2),
    iban_last4 TEXT NOT NULL CHECK (length(iban_last4) = 4),
    bic TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cooling_off_until BIGINT,
    PRIMARY KEY (workspace_id, partner_id),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

-- Row security (docs/ARCHITECTURE.md "The second wall"). Money is private to each organisation,
-- as in the ledger (ADR 0016): a partner reads and writes its own organisation's method only,
-- never a reseller's; a restricted channel manager reaches the methods of the partners they
-- manage (the service's role check then refuses channel managers).
ALTER TABLE payout_methods ENABLE ROW LEVEL SECURITY;
ALTER TABLE payout_methods FORCE ROW LEVEL SECURITY;
CREATE POLICY payout_methods_visible ON payout_methods USING (current_user <> 'trellis_app'
    OR payout_methods.partner_id = current_setting('trellis.acting_partner_id', true)
    OR EXISTS (
        SELECT 1 FROM partner_ancestry pa
         WHERE pa.workspace_id = payout_methods.workspace_id AND pa.descendant_id = payout_methods.partner_id
           AND pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true)
         OFFSET 0));
