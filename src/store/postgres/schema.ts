/**
 * The PostgreSQL schema as versioned migrations.
 *
 * Migrations are an append-only list: never edit one that has shipped, add a new version.
 * They run under a session advisory lock, so when several Wharf nodes start at once one of
 * them migrates and the others wait, then find nothing left to do. Each migration commits in
 * one transaction together with its schema_migrations row.
 */
import pg from 'pg';
import { bodyWordsSql } from './body-words.js';
import { clientConfig } from './db.js';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** Any fixed 64-bit number; it names "Wharf's schema" among the database's advisory locks. */
const MIGRATION_LOCK = 0x5768_6172_6601;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema',
    sql: `
      -- Trigram indexes for substring search (pg_trgm ships with PostgreSQL; a trusted
      -- extension, so the database owner may create it).
      CREATE EXTENSION IF NOT EXISTS pg_trgm;

      -- Small key/value counters (e.g. the last UIDVALIDITY handed out).
      CREATE TABLE meta (
        key   text PRIMARY KEY,
        value bigint NOT NULL
      );

      CREATE TABLE domains (
        name       text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE users (
        id            bigserial PRIMARY KEY,
        address       text NOT NULL UNIQUE,
        domain        text NOT NULL REFERENCES domains(name),
        password_hash text NOT NULL,
        quota_bytes   bigint,
        used_bytes    bigint NOT NULL DEFAULT 0,
        created_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX users_domain ON users(domain);

      -- One row per (source, target); source '@domain' is the catch-all.
      CREATE TABLE aliases (
        source text NOT NULL,
        target text NOT NULL,
        domain text NOT NULL REFERENCES domains(name),
        PRIMARY KEY (source, target)
      );
      CREATE INDEX aliases_domain ON aliases(domain);

      CREATE TABLE mailboxes (
        id             bigserial PRIMARY KEY,
        user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name           text NOT NULL,
        role           text,
        uid_validity   bigint NOT NULL,
        uid_next       bigint NOT NULL DEFAULT 1,
        highest_modseq bigint NOT NULL DEFAULT 1,
        message_count  bigint NOT NULL DEFAULT 0,
        total_bytes    bigint NOT NULL DEFAULT 0,
        -- The highest modseq among pruned expunge records: changesSince from below it is incomplete.
        pruned_modseq  bigint NOT NULL DEFAULT 0,
        UNIQUE (user_id, name)
      );

      -- IMAP subscriptions are names, kept whether or not such a mailbox exists.
      CREATE TABLE subscriptions (
        user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name    text NOT NULL,
        PRIMARY KEY (user_id, name)
      );

      -- A body is 'pending' while it streams in and 'committed' once a deliver/append made it
      -- visible. Its writer refreshes touched_at while it lives; pending bodies left untouched
      -- for long belong to a node that died mid-write and are swept.
      CREATE TABLE bodies (
        id          bigserial PRIMARY KEY,
        state       text NOT NULL CHECK (state IN ('pending', 'committed')),
        size        bigint NOT NULL DEFAULT 0,
        chunk_size  integer NOT NULL,
        owner_token text,
        touched_at  timestamptz NOT NULL DEFAULT now(),
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX bodies_pending ON bodies(touched_at) WHERE state = 'pending';

      -- Fixed-size chunks (the last may be shorter).
      CREATE TABLE body_chunks (
        body_id bigint NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
        seq     integer NOT NULL,
        data    bytea NOT NULL,
        PRIMARY KEY (body_id, seq)
      );
      -- Out of line and uncompressed: mail is mostly compressed or encoded already, and a
      -- range read (substring) then fetches only the slices it needs.
      ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

      -- A stored message shares its id with its body: deleting the body deletes both.
      -- headers (the HeaderSummary), envelope and structure (the MessageStructure) are JSON text.
      CREATE TABLE messages (
        id            bigint PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
        size          bigint NOT NULL,
        internal_date timestamptz NOT NULL,
        headers       text NOT NULL,
        envelope      text,
        structure     text,
        -- What message_text holds: 'complete' text, text 'truncated' at the analyzer's limit
        -- (search reads the body to confirm), or nothing usable ('missing': search reads the body).
        text_state    text NOT NULL CHECK (text_state IN ('missing', 'complete', 'truncated')),
        created_at    timestamptz NOT NULL DEFAULT now()
      );
      -- The few messages search must confirm from their bodies.
      CREATE INDEX messages_text_incomplete ON messages(id) WHERE text_state <> 'complete';

      -- Decoded text per message, lower-cased the way a search needle is. The trigram
      -- indexes narrow a LIKE '%needle%'; LIKE itself confirms exactly.
      CREATE TABLE message_text (
        message_id bigint PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        subject    text,
        from_addr  text,
        to_addr    text,
        cc_addr    text,
        bcc_addr   text,
        headers    text,
        body       text
      );
      CREATE INDEX message_text_trgm ON message_text USING gin (
        subject gin_trgm_ops, from_addr gin_trgm_ops, to_addr gin_trgm_ops, cc_addr gin_trgm_ops,
        bcc_addr gin_trgm_ops, headers gin_trgm_ops, body gin_trgm_ops
      );

      -- Size and internal date are copied from the message so listing a mailbox reads only this table.
      CREATE TABLE mailbox_entries (
        mailbox_id    bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid           bigint NOT NULL,
        message_id    bigint NOT NULL REFERENCES messages(id),
        flags         text[] NOT NULL DEFAULT '{}',
        modseq        bigint NOT NULL,
        size          bigint NOT NULL,
        internal_date timestamptz NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
      );
      CREATE INDEX entries_message ON mailbox_entries(message_id);
      CREATE INDEX entries_modseq ON mailbox_entries(mailbox_id, modseq);

      -- Expunged UIDs with the modseq of their removal, for CONDSTORE/QRESYNC.
      CREATE TABLE expunged (
        mailbox_id  bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid         bigint NOT NULL,
        modseq      bigint NOT NULL,
        expunged_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (mailbox_id, uid)
      );
      CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
      CREATE INDEX expunged_time ON expunged(expunged_at);

      -- Expiry by the database's clock, the one clock every node shares.
      CREATE TABLE leases (
        name       text PRIMARY KEY,
        owner      text NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'the \\Recent claim kept in the store, so sessions on every node agree',
    sql: `
      -- The highest UID some session has already seen as \\Recent (IMAP4rev1).
      ALTER TABLE mailboxes ADD COLUMN recent_uid bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 3,
    description: 'prepended header bytes, DKIM keys and shared counters',
    sql: `
      -- Bytes put in front of a body once it had streamed in (header fields added after
      -- verifying or signing it). The body is head || chunks; size counts both. NULL: none.
      ALTER TABLE bodies ADD COLUMN head bytea;

      -- A domain's DKIM signing key; it goes with its domain.
      CREATE TABLE dkim_keys (
        domain          text PRIMARY KEY REFERENCES domains(name) ON DELETE CASCADE,
        selector        text NOT NULL,
        algorithm       text NOT NULL,
        private_key_pem text NOT NULL,
        created_at      timestamptz NOT NULL
      );

      -- Fixed-window event counters (rate limits) shared by every node; expiry by the
      -- database's clock, the one clock every node shares.
      CREATE TABLE counters (
        name       text PRIMARY KEY,
        count      bigint NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX counters_expiry ON counters(expires_at);
    `,
  },
  {
    version: 4,
    description: 'the outbound queue',
    sql: `
      -- A message waiting to go to other servers. The body stays while a queue row points at
      -- it (even without any mailbox entry). lease_* say which node's worker attempts it now,
      -- by the database's clock; a lease that expired (its node died) may be taken by another.
      CREATE TABLE queue_messages (
        id               bigserial PRIMARY KEY,
        message_id       bigint NOT NULL REFERENCES messages(id),
        mail_from        text NOT NULL,
        sender_user_id   bigint REFERENCES users(id) ON DELETE SET NULL,
        eight_bit        boolean NOT NULL,
        smtputf8         boolean NOT NULL,
        size             bigint NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        delay_notified   boolean NOT NULL DEFAULT false,
        lease_owner      text,
        lease_expires_at timestamptz NOT NULL DEFAULT '-infinity'
      );
      CREATE INDEX queue_messages_message ON queue_messages(message_id);
      CREATE INDEX queue_messages_sender ON queue_messages(sender_user_id) WHERE sender_user_id IS NOT NULL;

      -- One row per recipient, in the order given (seq).
      CREATE TABLE queue_recipients (
        queue_id        bigint NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
        seq             integer NOT NULL,
        address         text NOT NULL,
        domain          text NOT NULL,
        status          text NOT NULL CHECK (status IN ('pending', 'held', 'delivered', 'bounced')),
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        last_attempt_at timestamptz,
        last_reply      text,
        dsn_sent        boolean NOT NULL DEFAULT false,
        PRIMARY KEY (queue_id, seq)
      );
      -- Due work: what claimDue and nextDue read.
      CREATE INDEX queue_recipients_due ON queue_recipients(next_attempt_at, queue_id) WHERE status = 'pending';
    `,
  },
  {
    version: 5,
    description: 'SSH public keys; the file store',
    sql: `
      -- A user's public keys (RFC 4253 wire form); they go with the user. The fingerprint
      -- (OpenSSH's SHA256:...) names a key to remove and keeps a user from adding one twice.
      CREATE TABLE ssh_keys (
        id          bigserial PRIMARY KEY,
        user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        algorithm   text NOT NULL,
        public_key  bytea NOT NULL,
        comment     text NOT NULL,
        fingerprint text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, fingerprint)
      );

      -- The bytes of one version of a file, in fixed-size chunks as message bodies are.
      -- 'pending' while an upload writes it (its writer refreshes touched_at), 'committed'
      -- while a file points at it, 'released' once replaced or removed: kept a while for
      -- readers that opened it before, then swept with the pending ones nobody finished.
      CREATE TABLE file_contents (
        id          bigserial PRIMARY KEY,
        state       text NOT NULL CHECK (state IN ('pending', 'committed', 'released')),
        size        bigint NOT NULL DEFAULT 0,
        chunk_size  integer NOT NULL,
        owner_token text,
        touched_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX file_contents_unreferenced ON file_contents(touched_at) WHERE state <> 'committed';

      CREATE TABLE file_chunks (
        content_id bigint NOT NULL REFERENCES file_contents(id) ON DELETE CASCADE,
        seq        integer NOT NULL,
        data       bytea NOT NULL,
        PRIMARY KEY (content_id, seq)
      );
      -- Files are mostly compressed already: no second compression attempt, and substring
      -- reads of a chunk touch only that slice.
      ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

      -- Files and folders, one row each; a space is 'u:<user id>' or 'anonymous', the root
      -- folder of a space has no row. Paths compare bytewise (COLLATE "C"), so the folder
      -- '/a' and everything under it is the range '/a/' .. '/a0' of the primary key.
      CREATE TABLE file_nodes (
        space      text NOT NULL,
        path       text COLLATE "C" NOT NULL,
        parent     text COLLATE "C" NOT NULL,
        name       text COLLATE "C" NOT NULL,
        type       text NOT NULL CHECK (type IN ('file', 'directory')),
        size       bigint NOT NULL DEFAULT 0,
        mode       integer NOT NULL,
        modified   timestamptz NOT NULL DEFAULT now(),
        content_id bigint REFERENCES file_contents(id),
        PRIMARY KEY (space, path)
      );
      CREATE INDEX file_nodes_parent ON file_nodes(space, parent);
    `,
  },
  {
    version: 6,
    description: 'search text indexed beside delivery, not in it',
    sql: `
      -- Trigram indexing of a message's text cost more database time than the rest of a
      -- delivery together. A delivery now writes the text here, to a table with no text
      -- index, and marks the message 'pending'; an indexer moves the rows into message_text
      -- in batches (text-indexer.ts). Search reads both tables in one statement, so a message
      -- is found the moment its delivery is acknowledged, as before.
      ALTER TABLE messages DROP CONSTRAINT messages_text_state_check;
      ALTER TABLE messages ADD CONSTRAINT messages_text_state_check
        CHECK (text_state IN ('missing', 'pending', 'complete', 'truncated'));
      CREATE TABLE message_text_pending (
        message_id bigint PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        -- The state the message takes once its text is in message_text.
        state      text NOT NULL CHECK (state IN ('complete', 'truncated')),
        subject    text,
        from_addr  text,
        to_addr    text,
        cc_addr    text,
        bcc_addr   text,
        headers    text,
        body       text
      );
    `,
  },
  {
    version: 7,
    description: 'search text compressed with lz4 where the server has it',
    sql: `
      -- Each delivery's search text (about as long as its body) is compressed once, as it enters
      -- message_text_pending; the indexer moves the compressed value into message_text as it
      -- is. With pglz that compression was a large part of a delivery's statement; lz4 does
      -- it several times faster. Values already stored keep their compression (both read
      -- alike). A server built without lz4 keeps pglz.
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
          ALTER TABLE message_text_pending ALTER COLUMN subject SET COMPRESSION lz4, ALTER COLUMN from_addr SET COMPRESSION lz4, ALTER COLUMN to_addr SET COMPRESSION lz4, ALTER COLUMN cc_addr SET COMPRESSION lz4, ALTER COLUMN bcc_addr SET COMPRESSION lz4, ALTER COLUMN headers SET COMPRESSION lz4, ALTER COLUMN body SET COMPRESSION lz4;
          ALTER TABLE message_text ALTER COLUMN subject SET COMPRESSION lz4, ALTER COLUMN from_addr SET COMPRESSION lz4, ALTER COLUMN to_addr SET COMPRESSION lz4, ALTER COLUMN cc_addr SET COMPRESSION lz4, ALTER COLUMN bcc_addr SET COMPRESSION lz4, ALTER COLUMN headers SET COMPRESSION lz4, ALTER COLUMN body SET COMPRESSION lz4;
        END IF;
      END
      $$;
    `,
  },
  {
    version: 8,
    description: 'the trigram index holds the body text\'s distinct words, not the whole body',
    sql: `
      -- pg_trgm's trigrams of a text are those of its words, so the index needs each word once
      -- (body-words.ts); extracting and sorting the trigrams of whole bodies was the largest
      -- database cost of a delivery. The body stays whole for the exact check. Existing rows
      -- get their words here, split the way the server splits them (bodyWordsSql).
      ALTER TABLE message_text_pending ADD COLUMN body_words text;
      ALTER TABLE message_text ADD COLUMN body_words text;
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
          ALTER TABLE message_text_pending ALTER COLUMN body_words SET COMPRESSION lz4;
          ALTER TABLE message_text ALTER COLUMN body_words SET COMPRESSION lz4;
        END IF;
      END
      $$;
      UPDATE message_text_pending p SET body_words = ${bodyWordsSql('p.body')} WHERE p.body IS NOT NULL;
      UPDATE message_text t SET body_words = ${bodyWordsSql('t.body')} WHERE t.body IS NOT NULL;
      DROP INDEX message_text_trgm;
      CREATE INDEX message_text_trgm ON message_text USING gin (
        subject gin_trgm_ops, from_addr gin_trgm_ops, to_addr gin_trgm_ops, cc_addr gin_trgm_ops,
        bcc_addr gin_trgm_ops, headers gin_trgm_ops, body_words gin_trgm_ops
      );
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * The schema version of the database at `url` without changing anything: 0 when it holds no
 * Wharf schema (an empty database, which opening a store would migrate).
 */
export async function installedVersion(url: string): Promise<number> {
  const client = new pg.Client(clientConfig(url));
  await client.connect();
  try {
    const table = await client.query<{ found: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS found`);
    if (!table.rows[0]!.found) return 0;
    const { rows } = await client.query<{ version: number }>(
      'SELECT COALESCE(MAX(version), 0)::int AS version FROM schema_migrations',
    );
    return rows[0]!.version;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Brings the schema up to date; safe to run from several nodes at once. */
export async function migrate(url: string): Promise<void> {
  const client = new pg.Client(clientConfig(url));
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>(
      'SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations',
    );
    const found = rows[0]!.version;
    if (found > LATEST_VERSION) {
      throw new Error(`database schema version ${found} is newer than this Wharf (${LATEST_VERSION}); upgrade Wharf`);
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= found) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${migration.version} (${migration.description}) failed: ${(err as Error).message}`);
      }
    }
  } finally {
    // Ending the session releases the advisory lock, also when something above failed.
    await client.end().catch(() => undefined);
  }
}
