/**
 * Opening the SQLite database: connection pragmas and versioned schema migrations.
 *
 * Migrations are an append-only list: never edit one that has shipped, add a new version.
 * Each runs in its own IMMEDIATE transaction together with its `schema_migrations` row, so
 * two processes opening the same file at once cannot both apply it.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema',
    sql: `
      -- Small key/value counters (e.g. the last UIDVALIDITY handed out).
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );

      CREATE TABLE domains (
        name       TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        address       TEXT NOT NULL UNIQUE,
        domain        TEXT NOT NULL REFERENCES domains(name),
        password_hash TEXT NOT NULL,
        quota_bytes   INTEGER,
        used_bytes    INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
      );
      CREATE INDEX users_domain ON users(domain);

      -- One row per (source, target); source '@domain' is the catch-all.
      CREATE TABLE aliases (
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        domain TEXT NOT NULL REFERENCES domains(name),
        PRIMARY KEY (source, target)
      ) WITHOUT ROWID;
      CREATE INDEX aliases_domain ON aliases(domain);

      CREATE TABLE mailboxes (
        id             INTEGER PRIMARY KEY,
        user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name           TEXT NOT NULL,
        role           TEXT,
        uid_validity   INTEGER NOT NULL,
        uid_next       INTEGER NOT NULL DEFAULT 1,
        highest_modseq INTEGER NOT NULL DEFAULT 1,
        subscribed     INTEGER NOT NULL DEFAULT 1,
        message_count  INTEGER NOT NULL DEFAULT 0,
        total_bytes    INTEGER NOT NULL DEFAULT 0,
        UNIQUE (user_id, name)
      );

      -- A body is 'pending' while it is being streamed in, 'committed' once a deliver/append
      -- made it visible. owner_* identify the writing process so that a store opening the
      -- file can tell a crashed writer's leftovers from another live process's work.
      CREATE TABLE bodies (
        id          INTEGER PRIMARY KEY,
        state       TEXT NOT NULL CHECK (state IN ('pending', 'committed')),
        size        INTEGER NOT NULL DEFAULT 0,
        chunk_size  INTEGER NOT NULL,
        owner_host  TEXT,
        owner_pid   INTEGER,
        owner_token TEXT,
        created_at  INTEGER NOT NULL
      );
      CREATE INDEX bodies_pending ON bodies(state) WHERE state = 'pending';

      -- Fixed-size chunks (the last may be shorter); a rowid table because rows are large.
      CREATE TABLE body_chunks (
        body_id INTEGER NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
        seq     INTEGER NOT NULL,
        data    BLOB NOT NULL,
        PRIMARY KEY (body_id, seq)
      );

      -- A stored message shares its id with its body: deleting the body deletes both.
      CREATE TABLE messages (
        id             INTEGER PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
        size           INTEGER NOT NULL,
        internal_date  INTEGER NOT NULL,
        h_from         TEXT,
        h_to           TEXT,
        h_cc           TEXT,
        h_bcc          TEXT,
        h_reply_to     TEXT,
        h_subject      TEXT,
        h_date         TEXT,
        h_message_id   TEXT,
        h_in_reply_to  TEXT,
        h_references   TEXT,
        mail_from      TEXT,
        rcpt_to        TEXT,
        created_at     INTEGER NOT NULL
      );

      CREATE TABLE mailbox_entries (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid        INTEGER NOT NULL,
        message_id INTEGER NOT NULL REFERENCES messages(id),
        flags      TEXT NOT NULL DEFAULT '',
        modseq     INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX entries_message ON mailbox_entries(message_id);
      CREATE INDEX entries_modseq ON mailbox_entries(mailbox_id, modseq);

      -- Expunged UIDs with the modseq of their removal, for CONDSTORE/QRESYNC.
      CREATE TABLE expunged (
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid        INTEGER NOT NULL,
        modseq     INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
      ) WITHOUT ROWID;
      CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

      CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'subscriptions as names of their own',
    sql: `
      -- IMAP subscriptions are names, kept whether or not such a mailbox exists.
      CREATE TABLE subscriptions (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name    TEXT NOT NULL,
        PRIMARY KEY (user_id, name)
      ) WITHOUT ROWID;
      INSERT INTO subscriptions (user_id, name) SELECT user_id, name FROM mailboxes WHERE subscribed <> 0;
      ALTER TABLE mailboxes DROP COLUMN subscribed;
    `,
  },
  {
    version: 3,
    description: 'expunge record times, for pruning',
    sql: `
      ALTER TABLE expunged ADD COLUMN expunged_at INTEGER NOT NULL DEFAULT 0;
      -- Records made before this migration count as made now, so the first prune keeps them.
      UPDATE expunged SET expunged_at = CAST(unixepoch('subsec') * 1000 AS INTEGER);
      CREATE INDEX expunged_time ON expunged(expunged_at);
      -- The highest modseq among pruned expunge records: changesSince from below it is incomplete.
      ALTER TABLE mailboxes ADD COLUMN pruned_modseq INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 4,
    description: 'MIME structure and the full-text search index',
    sql: `
      -- JSON of the MessageStructure computed while the body streamed in; NULL for messages
      -- stored before this migration (their structure is computed when asked for).
      ALTER TABLE messages ADD COLUMN structure TEXT;
      -- What message_text holds for the message: 'complete' text, text 'truncated' at the
      -- analyzer's limit (search reads the body to confirm), or nothing ('missing', messages
      -- stored before this migration: search reads their bodies).
      ALTER TABLE messages ADD COLUMN text_state TEXT NOT NULL DEFAULT 'missing'
        CHECK (text_state IN ('missing', 'complete', 'truncated'));

      -- Decoded text by message id (rowid). The trigram tokenizer (case-insensitive) lets a
      -- MATCH narrow any substring of 3 or more characters; the stored columns confirm it.
      -- detail=column keeps no positions, only which column a trigram is in: far less to write
      -- per delivery. Queries AND the needle's trigrams instead of matching a phrase; the confirming
      -- check makes the result exact either way.
      CREATE VIRTUAL TABLE message_text USING fts5(
        subject, from_addr, to_addr, cc_addr, bcc_addr, headers, body,
        tokenize = 'trigram', detail = 'column'
      );
      -- Fires for every way a message goes, including the cascade from its body.
      CREATE TRIGGER message_text_forget AFTER DELETE ON messages BEGIN
        DELETE FROM message_text WHERE rowid = old.id;
      END;
    `,
  },
  {
    version: 5,
    description: 'the queue of messages waiting for the indexer',
    sql: `
      -- The index worker takes its work from here, oldest first.
      CREATE INDEX messages_unindexed ON messages(id) WHERE text_state = 'missing';
    `,
  },
  {
    version: 6,
    description: 'listing entries without reading whole message rows',
    sql: `
      -- Listing a mailbox joins every entry to its message for size and date; message rows
      -- are large (headers, MIME structure), this index holds just what the listing reads.
      CREATE INDEX messages_listing ON messages(id, size, internal_date);
    `,
  },
  {
    version: 7,
    description: 'the \\Recent claim kept in the store, so sessions on every node agree',
    sql: `
      -- The highest UID some session has already seen as \\Recent (IMAP4rev1).
      ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 8,
    description: 'prepended header bytes, DKIM keys and shared counters',
    sql: `
      -- Bytes put in front of a body once it had streamed in (header fields added after
      -- verifying or signing it). The body is head || chunks; size counts both. NULL: none.
      ALTER TABLE bodies ADD COLUMN head BLOB;

      -- A domain's DKIM signing key; it goes with its domain.
      CREATE TABLE dkim_keys (
        domain          TEXT PRIMARY KEY REFERENCES domains(name) ON DELETE CASCADE,
        selector        TEXT NOT NULL,
        algorithm       TEXT NOT NULL,
        private_key_pem TEXT NOT NULL,
        created_at      INTEGER NOT NULL
      );

      -- Fixed-window event counters (rate limits) shared by every process using the file.
      CREATE TABLE counters (
        name       TEXT PRIMARY KEY,
        count      INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX counters_expiry ON counters(expires_at);
    `,
  },
  {
    version: 9,
    description: 'the outbound queue',
    sql: `
      -- A message waiting to go to other servers. The body stays while a queue row points at
      -- it (even without any mailbox entry). lease_* say which worker attempts it now; a lease
      -- that expired (its node died) may be taken by another worker.
      CREATE TABLE queue_messages (
        id               INTEGER PRIMARY KEY,
        message_id       INTEGER NOT NULL REFERENCES messages(id),
        mail_from        TEXT NOT NULL,
        sender_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
        eight_bit        INTEGER NOT NULL,
        smtputf8         INTEGER NOT NULL,
        size             INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        delay_notified   INTEGER NOT NULL DEFAULT 0,
        lease_owner      TEXT,
        lease_expires_at INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX queue_messages_message ON queue_messages(message_id);
      CREATE INDEX queue_messages_sender ON queue_messages(sender_user_id) WHERE sender_user_id IS NOT NULL;

      -- One row per recipient, in the order given (seq).
      CREATE TABLE queue_recipients (
        queue_id        INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
        seq             INTEGER NOT NULL,
        address         TEXT NOT NULL,
        domain          TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('pending', 'held', 'delivered', 'bounced')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_attempt_at INTEGER,
        last_reply      TEXT,
        dsn_sent        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (queue_id, seq)
      ) WITHOUT ROWID;
      -- Due work: what claimDue and nextDue read.
      CREATE INDEX queue_recipients_due ON queue_recipients(next_attempt_at, queue_id) WHERE status = 'pending';
    `,
  },
  {
    version: 10,
    description: 'SSH public keys for SFTP login',
    sql: `
      -- A user's public keys (RFC 4253 wire form); they go with the user. The fingerprint
      -- (OpenSSH's SHA256:...) names a key to remove and keeps a user from adding one twice.
      CREATE TABLE ssh_keys (
        id          INTEGER PRIMARY KEY,
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        algorithm   TEXT NOT NULL,
        public_key  BLOB NOT NULL,
        comment     TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        UNIQUE (user_id, fingerprint)
      );
    `,
  },
];

/** Page cache of the main connection, KiB (PRAGMA cache_size takes KiB as a negative number). */
const MAIN_CACHE_KIB = 4096;

/** Opens the database file, sets the pragmas and brings the schema up to date. */
export function openDatabase(file: string): Db {
  const db = new Database(file);
  try {
    // Long while opening (another process may be migrating); short afterwards, see below.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // NORMAL: COMMIT does not fsync. The write queue fsyncs the WAL itself, off the event
    // loop (wal-sync.ts), before it reports anything durable, so no acknowledged commit is
    // lost on power failure. Checkpoints run in a worker thread (checkpoint-worker.ts).
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 0');
    // When the WAL restarts after a checkpoint, keep at most this much of the file.
    db.pragma('journal_size_limit = 67108864');
    db.pragma('foreign_keys = ON');
    // The page cache lives in the process's native memory (the SQLite build's default is
    // 16 MB per connection). Mailbox metadata, the hot part, is a few MB even for large
    // mailboxes; bodies are read once per fetch and the OS's file cache holds them anyway.
    db.pragma(`cache_size = -${MAIN_CACHE_KIB}`);
    migrate(db);
    // A writer that finds the lock taken (the CLI while the server runs) retries on a timer
    // in write-queue.ts instead of blocking the event loop for seconds.
    db.pragma('busy_timeout = 5');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The schema version this code migrates to and expects. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const SCHEMA_VERSION_SQL = 'SELECT COALESCE(MAX(version), 0) FROM schema_migrations';

function newerSchemaError(found: number): Error {
  return new Error(`database schema version ${found} is newer than this Wharf (${LATEST_SCHEMA_VERSION}); upgrade Wharf`);
}

/**
 * A check for a database opened earlier: throws when the connection is unusable or the schema
 * is no longer the one this code expects (another node sharing the file upgraded it). The
 * statement is prepared once; the check is one indexed read.
 */
export function schemaCheck(db: Db): () => void {
  const currentVersion = db.prepare(SCHEMA_VERSION_SQL).pluck();
  return () => {
    const found = currentVersion.get() as number;
    if (found > LATEST_SCHEMA_VERSION) throw newerSchemaError(found);
    if (found < LATEST_SCHEMA_VERSION) {
      throw new Error(`database schema version ${found} is older than this Wharf (${LATEST_SCHEMA_VERSION}); migrations not applied`);
    }
  };
}

function migrate(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
  )`);
  const currentVersion = db.prepare(SCHEMA_VERSION_SQL).pluck();
  const found = currentVersion.get() as number;
  if (found > LATEST_SCHEMA_VERSION) throw newerSchemaError(found);
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  for (const migration of MIGRATIONS) {
    if (migration.version <= found) continue;
    const apply = db.transaction(() => {
      // Re-checked inside the write lock: another process may have applied it meanwhile.
      if ((currentVersion.get() as number) >= migration.version) return;
      db.exec(migration.sql);
      record.run(migration.version, Date.now());
    });
    apply.immediate();
  }
}
