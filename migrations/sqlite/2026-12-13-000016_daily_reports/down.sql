DROP INDEX mailing_pauses_paused_at_idx;
DROP TABLE breaker_trips;
DROP TABLE daily_reports;
