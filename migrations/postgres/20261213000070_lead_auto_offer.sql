-- A program may offer each new lead at once to its best match (issue 13): the engine's offer, made
-- by a job enqueued with the lead, instead of waiting in the channel team's inbox for a click.
ALTER TABLE lead_settings ADD COLUMN auto_offer BOOLEAN NOT NULL DEFAULT FALSE;
