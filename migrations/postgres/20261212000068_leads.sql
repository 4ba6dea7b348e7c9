-- Lead distribution (issue 13, crates/trellis-leads, ADR 0028): leads the vendor passes to
-- partners, their offers (one partner at a time, with an SLA), the matching's settings per
-- program and the per-partner figures it ranks by.

CREATE TABLE leads (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    -- The program whose partners are candidates and whose rules the deal follows; null: any
    -- program that takes deal registrations, with the workspace's defaults.
    program_id TEXT COLLATE "C",
    status TEXT NOT NULL CHECK (status IN ('new', 'offered', 'accepted', 'converted', 'declined', 'expired', 'returned', 'closed')),
    company_name TEXT NOT NULL,
    contact_name TEXT,
    contact_email TEXT,
    domain TEXT,
    country TEXT NOT NULL,
    region TEXT,
    product_interest TEXT,
    estimated_value_minor BIGINT,
    currency TEXT,
    notes TEXT NOT NULL DEFAULT '',
    -- The lead's id in the vendor's systems: an import is idempotent by it.
    external_id TEXT,
    source TEXT NOT NULL CHECK (source IN ('api', 'import', 'form')),
    -- The partner that holds it now (offered to or accepted by); null while with the vendor.
    holder_partner_id TEXT COLLATE "C",
    current_offer_id TEXT COLLATE "C",
    offer_expires_at BIGINT,
    -- The reason of the last decline, return or closing.
    status_reason TEXT,
    deal_id TEXT COLLATE "C",
    created_by_user_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id),
    FOREIGN KEY (workspace_id, holder_partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id)
);
CREATE UNIQUE INDEX leads_by_external_id ON leads (workspace_id, external_id) WHERE external_id IS NOT NULL;
-- The console's inbox by status (and the SLA about to pass first); a partner's open leads.
CREATE INDEX leads_by_status ON leads (workspace_id, status, id);
CREATE INDEX leads_by_holder ON leads (workspace_id, holder_partner_id, status);

-- The leads each partner lists: one row per ancestor of the holder (itself included), kept by
-- the triggers below, so a distributor's list walks its own rows whatever its subtree's size.
CREATE TABLE lead_ancestry (
    workspace_id TEXT COLLATE "C" NOT NULL,
    ancestor_id TEXT COLLATE "C" NOT NULL,
    lead_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (workspace_id, ancestor_id, lead_id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id)
);
CREATE INDEX lead_ancestry_by_lead ON lead_ancestry (workspace_id, lead_id);

CREATE FUNCTION leads_ancestry_on_holder() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM lead_ancestry WHERE workspace_id = NEW.workspace_id AND lead_id = NEW.id;
    END IF;
    IF NEW.holder_partner_id IS NOT NULL THEN
        INSERT INTO lead_ancestry (workspace_id, ancestor_id, lead_id)
        SELECT NEW.workspace_id, pa.ancestor_id, NEW.id FROM partner_ancestry pa
         WHERE pa.workspace_id = NEW.workspace_id AND pa.descendant_id = NEW.holder_partner_id
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER leads_ancestry_on_insert AFTER INSERT ON leads
    FOR EACH ROW WHEN (NEW.holder_partner_id IS NOT NULL) EXECUTE FUNCTION leads_ancestry_on_holder();
CREATE TRIGGER leads_ancestry_on_update AFTER UPDATE OF holder_partner_id ON leads
    FOR EACH ROW WHEN (OLD.holder_partner_id IS DISTINCT FROM NEW.holder_partner_id) EXECUTE FUNCTION leads_ancestry_on_holder();

CREATE FUNCTION partner_ancestry_leads_on_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO lead_ancestry (workspace_id, ancestor_id, lead_id)
    SELECT NEW.workspace_id, NEW.ancestor_id, l.id FROM leads l
     WHERE l.workspace_id = NEW.workspace_id AND l.holder_partner_id = NEW.descendant_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER partner_ancestry_leads_on_insert AFTER INSERT ON partner_ancestry
    FOR EACH ROW EXECUTE FUNCTION partner_ancestry_leads_on_insert();

CREATE FUNCTION partner_ancestry_leads_on_delete() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM lead_ancestry
     WHERE workspace_id = OLD.workspace_id AND ancestor_id = OLD.ancestor_id
       AND lead_id IN (SELECT l.id FROM leads l WHERE l.workspace_id = OLD.workspace_id AND l.holder_partner_id = OLD.descendant_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER partner_ancestry_leads_on_delete AFTER DELETE ON partner_ancestry
    FOR EACH ROW EXECUTE FUNCTION partner_ancestry_leads_on_delete();

-- Each offer of a lead to one partner, with the match as offered (score and reasons) and the
-- factor values then (the outcomes the model is fitted to).
CREATE TABLE lead_offers (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    lead_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'accepted', 'declined', 'expired', 'returned', 'withdrawn')),
    reason TEXT,
    -- The score in ten-thousandths of a point; reasons: [{factor, value, weight}].
    score_bp BIGINT NOT NULL,
    reasons TEXT NOT NULL DEFAULT '[]',
    -- null: the matching engine chose the partner.
    offered_by_user_id TEXT COLLATE "C",
    offered_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX lead_offers_by_lead ON lead_offers (workspace_id, lead_id, offered_at);
CREATE INDEX lead_offers_by_partner ON lead_offers (workspace_id, partner_id, outcome);

-- Per program: the SLA to accept, the open leads a partner may hold, the factors' weights
-- (points, JSON {factor: points}; missing factors keep their defaults) and the fitted model in
-- force (null: the weights as set).
CREATE TABLE lead_settings (
    workspace_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    sla_hours INTEGER NOT NULL DEFAULT 48 CHECK (sla_hours BETWEEN 1 AND 720),
    -- Whether the program's public lead form (/leads/{slug}) takes enquiries.
    public_form BOOLEAN NOT NULL DEFAULT FALSE,
    capacity INTEGER NOT NULL DEFAULT 10 CHECK (capacity BETWEEN 1 AND 10000),
    weights TEXT NOT NULL DEFAULT '{}',
    fitted_weights TEXT,
    fitted_at BIGINT,
    -- What the refit measured: outcomes used, held-out log loss of the fitted and default models.
    fit_summary TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, program_id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);

-- A partner's figures the matching ranks by, one row per partner and country ('' for all
-- countries): deals won and lost and the days they took (rebuilt from deals by the daily
-- refresh), and offers accepted and refused and the hours to answer (moved by each answer).
CREATE TABLE lead_partner_stats (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    country TEXT NOT NULL,
    won BIGINT NOT NULL DEFAULT 0,
    lost BIGINT NOT NULL DEFAULT 0,
    close_days_sum BIGINT NOT NULL DEFAULT 0,
    offers_accepted BIGINT NOT NULL DEFAULT 0,
    offers_refused BIGINT NOT NULL DEFAULT 0,
    response_minutes_sum BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, partner_id, country),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

-- Submissions of the public lead forms, counted per address and per program (the form's rate
-- limit, as the application form's).
CREATE TABLE lead_form_attempts (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    ip TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);
CREATE INDEX lead_form_attempts_by_ip ON lead_form_attempts (workspace_id, ip, at);
CREATE INDEX lead_form_attempts_by_program ON lead_form_attempts (workspace_id, program_id, at);

-- A partner's own limit of open leads (offered or accepted), set by its admins; without a row,
-- the program's.
CREATE TABLE lead_partner_limits (
    workspace_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity BETWEEN 0 AND 10000),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

-- Row security (ARCHITECTURE.md "The second wall"): a lead is partner-owned through its holder —
-- its ancestors see it (lead_ancestry, one primary-key probe), a restricted manager when it
-- manages the holder; a lead with the vendor is seen by staff only. Offers and figures follow
-- their partner's tree.
ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE leads FORCE ROW LEVEL SECURITY;
CREATE POLICY leads_visible ON leads USING (current_user <> 'trellis_app'
    OR (leads.holder_partner_id IS NULL AND current_setting('trellis.acting_manager_id', true) <> '')
    OR EXISTS (SELECT 1 FROM lead_ancestry la
                WHERE la.workspace_id = leads.workspace_id AND la.ancestor_id = current_setting('trellis.acting_partner_id', true)
                  AND la.lead_id = leads.id OFFSET 0)
    OR EXISTS (SELECT 1 FROM partner_ancestry pa
                WHERE pa.workspace_id = leads.workspace_id AND pa.descendant_id = leads.holder_partner_id
                  AND pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true) OFFSET 0));

ALTER TABLE lead_ancestry ENABLE ROW LEVEL SECURITY;
ALTER TABLE lead_ancestry FORCE ROW LEVEL SECURITY;
CREATE POLICY lead_ancestry_visible ON lead_ancestry USING (current_user <> 'trellis_app'
    OR current_setting('trellis.acting_manager_id', true) <> ''
    OR lead_ancestry.ancestor_id = current_setting('trellis.acting_partner_id', true));

DO $$
DECLARE
    owned TEXT;
BEGIN
    FOREACH owned IN ARRAY ARRAY['lead_offers', 'lead_partner_stats', 'lead_partner_limits']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', owned);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', owned);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (current_user <> ''trellis_app''
               OR EXISTS (
                 SELECT 1 FROM partner_ancestry pa
                  WHERE pa.workspace_id = %I.workspace_id AND pa.descendant_id = %I.partner_id
                    AND (pa.ancestor_id = current_setting(''trellis.acting_partner_id'', true)
                         OR pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true))
                  OFFSET 0))',
            owned || '_visible', owned, owned, owned);
    END LOOP;
END;
$$;
