-- Where the approval page's button returns the citizen after they answer (the portal's
-- return_url at create; '' when none), and why the portal withdrew a request (its cancel
-- reason, e.g. 'superseded'; '' when none given).
ALTER TABLE signing_requests ADD COLUMN return_url TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_requests ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
