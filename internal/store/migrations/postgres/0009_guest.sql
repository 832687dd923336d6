-- Passengers without an account (guests, API.md "Guest") apply for and
-- show certificates too. Their face checks and certificates belong to
-- this one account row, which stands for every guest: the rows keep their
-- foreign keys (SQLite could only drop a NOT NULL by rebuilding the
-- tables), and a certificate's applicant (account or guest) is whether
-- its account is this row. It can never log in: its username is one that
-- sign-up refuses, it has no password hash and it is disabled.
INSERT INTO accounts (id, username, password_hash, role, created_at, disabled_at)
VALUES ('00000000000000000000000000000000', '(guest)', '', 'passenger', 0, 0);
