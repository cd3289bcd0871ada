-- The driver's heartbeat: updated with each batch of rows and at least every 15 s while a run
-- goes on. A run still `running` whose heartbeat stopped has lost its driver (`evaluator runs`
-- shows it as interrupted, with the command that resumes it).
ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMP;
