-- A face provider that compares with the registry photo needs the
-- subject's name and ID number when the check completes, and a hosted
-- provider's check carries the vendor's session token from start to
-- completion. The identity is sealed (pii.Keyring, bound to the check's
-- id) and cleared when the check completes; no picture is ever stored.
ALTER TABLE face_checks ADD COLUMN subject_sealed BLOB;
ALTER TABLE face_checks ADD COLUMN provider_token TEXT;
