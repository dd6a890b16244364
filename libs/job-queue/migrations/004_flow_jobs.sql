-- Reading a flow (the dashboard draws one every few seconds) finds its jobs by flow_id: without
-- this index that is a scan of every job. Partial: jobs outside flows are not indexed.
CREATE INDEX jobs_flow ON {{schema}}.jobs (flow_id, id) WHERE flow_id IS NOT NULL;
