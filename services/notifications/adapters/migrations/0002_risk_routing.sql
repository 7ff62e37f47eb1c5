-- The categories a member declared interest in: risk alerts touching them concern it.
ALTER TABLE member_channels ADD COLUMN interest_categories text[] NOT NULL DEFAULT '{}';
CREATE INDEX member_channels_interests ON member_channels USING gin (interest_categories);

-- Who was told of each risk alert (and of which own requests), so its resolution reaches
-- exactly those members once more.
CREATE TABLE risk_alert_recipients (
    alert_id             text   NOT NULL,
    member_id            text   NOT NULL,
    affected_request_ids text[] NOT NULL,
    notice_id            text   NOT NULL REFERENCES notices,
    PRIMARY KEY (alert_id, member_id)
);
