-- Whether the member is active: a suspended member is no longer told of risk alerts out of
-- interest (it still hears of alerts touching its own requests).
ALTER TABLE member_channels ADD COLUMN active boolean NOT NULL DEFAULT true;
