-- What Kubernetes keeps in memory per autoscaler (recent recommendations and scale
-- events for the stabilization windows and rate limits), stored so that a restarted
-- or newly elected controller does not flap.
CREATE TABLE IF NOT EXISTS hpa_history (
    uid        text PRIMARY KEY,
    history    jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
