// berth's state: one SQLite database (WAL) under the root directory.
// Images, tags, layers and containers; every change is a transaction.
import { Database } from "bun:sqlite";
import { byteOrder } from "../compare.ts";
import type { ContainerRecord, ImageRecord, NetworkRecord, VolumeRecord } from "../engine/types.ts";
import { currentOwner, type Owner } from "../owner.ts";

const MIGRATIONS = [
  `CREATE TABLE images (
     id TEXT PRIMARY KEY,
     config TEXT NOT NULL,
     manifest_digest TEXT NOT NULL,
     size INTEGER NOT NULL,
     created TEXT NOT NULL);
   CREATE TABLE tags (
     ref TEXT PRIMARY KEY,
     image_id TEXT NOT NULL REFERENCES images(id));
   CREATE INDEX tags_image ON tags(image_id);
   CREATE TABLE layers (
     chain_id TEXT PRIMARY KEY,
     diff_id TEXT NOT NULL,
     parent TEXT,
     blob TEXT NOT NULL,
     media_type TEXT NOT NULL,
     blob_size INTEGER NOT NULL,
     size INTEGER NOT NULL);
   CREATE TABLE containers (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     image_id TEXT NOT NULL,
     record TEXT NOT NULL);
   CREATE INDEX containers_image ON containers(image_id);`,
  `CREATE TABLE volumes (
     name TEXT PRIMARY KEY,
     record TEXT NOT NULL);
   CREATE TABLE events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     time_nano INTEGER NOT NULL,
     event TEXT NOT NULL);
   CREATE INDEX events_time ON events(time_nano);`,
  `CREATE TABLE networks (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     record TEXT NOT NULL);`,
  // Pulled and pushed images: "docker.io/library/x@sha256:..." names (RepoDigests),
  // and where a blob is known to be, for cross-repository mounts on push.
  `CREATE TABLE repo_digests (
     ref TEXT PRIMARY KEY,
     image_id TEXT NOT NULL);
   CREATE INDEX repo_digests_image ON repo_digests(image_id);
   CREATE TABLE blob_sources (
     digest TEXT NOT NULL,
     domain TEXT NOT NULL,
     repo TEXT NOT NULL,
     PRIMARY KEY (digest, domain, repo));`,
  // Builds: the image a build step started from (Docker's Parent: intermediate
  // images are parents), and the build cache, a step's key -> its image.
  `ALTER TABLE images ADD COLUMN parent TEXT NOT NULL DEFAULT '';
   CREATE INDEX images_parent ON images(parent);
   CREATE TABLE build_cache (
     key TEXT PRIMARY KEY,
     image_id TEXT NOT NULL);
   CREATE INDEX build_cache_image ON build_cache(image_id);`,
  // Who brought an image in first (containers, volumes and networks keep an Owner in their records).
  `CREATE TABLE image_owners (
     image_id TEXT PRIMARY KEY,
     owner TEXT NOT NULL);`,
];

export interface LayerRow {
  chain_id: string;
  diff_id: string;
  parent: string | null;
  blob: string;
  media_type: string;
  blob_size: number;
  /** Bytes of file content once unpacked. */
  size: number;
}

export class StateDB {
  readonly db: Database;

  constructor(path: string) {
    this.db = new Database(path, { create: true, strict: true });
    this.db.exec("PRAGMA busy_timeout = 10000");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA foreign_keys = ON");
    this.migrate();
  }

  private migrate() {
    const { user_version } = this.db.query("PRAGMA user_version").get() as { user_version: number };
    if (user_version >= MIGRATIONS.length) return;
    this.db.transaction(() => {
      for (let v = user_version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
      this.db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
    }).immediate();
  }

  /** Run `fn` in one write transaction (BEGIN IMMEDIATE: no lost updates between processes). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  close() {
    this.db.close();
  }

  // ------------------------------------------------------------ images

  putImage(img: ImageRecord) {
    this.db
      .query("INSERT OR REPLACE INTO images (id, config, manifest_digest, size, created, parent) VALUES (?, ?, ?, ?, ?, ?)")
      .run(img.id, JSON.stringify(img.config), img.manifestDigest, img.size, img.created, img.parent ?? "");
    const owner = img.owner ?? currentOwner();
    if (owner) this.db.query("INSERT OR IGNORE INTO image_owners (image_id, owner) VALUES (?, ?)").run(img.id, JSON.stringify(owner));
  }

  /** Who brought the image in first (undefined: berthd itself, or before owners were kept). */
  imageOwner(id: string): Owner | undefined {
    const row = this.db.query("SELECT owner FROM image_owners WHERE image_id = ?").get(id) as { owner: string } | null;
    return row ? JSON.parse(row.owner) : undefined;
  }

  /** IDs of the images built on `id` (its children). */
  childrenOf(id: string): string[] {
    return (this.db.query("SELECT id FROM images WHERE parent = ?").all(id) as { id: string }[]).map((r) => r.id);
  }

  /** Every image that is some image's parent. */
  parentIds(): Set<string> {
    return new Set((this.db.query("SELECT DISTINCT parent FROM images WHERE parent != ''").all() as { parent: string }[]).map((r) => r.parent));
  }

  cachedStep(key: string): string | undefined {
    return (this.db.query("SELECT image_id FROM build_cache WHERE key = ?").get(key) as { image_id: string } | null)?.image_id;
  }

  cacheStep(key: string, imageId: string) {
    this.db.query("INSERT OR REPLACE INTO build_cache (key, image_id) VALUES (?, ?)").run(key, imageId);
  }

  getImage(id: string): ImageRecord | undefined {
    const row = this.db.query("SELECT * FROM images WHERE id = ?").get(id) as ImageRow | null;
    return row ? toImage(row) : undefined;
  }

  /** Images whose id starts with `prefix` ("sha256:" optional). */
  findImages(prefix: string): ImageRecord[] {
    const full = prefix.startsWith("sha256:") ? prefix : `sha256:${prefix}`;
    const rows = this.db.query("SELECT * FROM images WHERE id >= ? AND id < ? || 'g'").all(full, full) as ImageRow[];
    return rows.map(toImage);
  }

  listImages(): ImageRecord[] {
    return (this.db.query("SELECT * FROM images ORDER BY created DESC").all() as ImageRow[]).map(toImage);
  }

  deleteImage(id: string) {
    this.db.query("DELETE FROM tags WHERE image_id = ?").run(id);
    this.db.query("DELETE FROM repo_digests WHERE image_id = ?").run(id);
    this.db.query("DELETE FROM build_cache WHERE image_id = ?").run(id);
    this.db.query("DELETE FROM image_owners WHERE image_id = ?").run(id);
    this.db.query("UPDATE images SET parent = '' WHERE parent = ?").run(id);
    this.db.query("DELETE FROM images WHERE id = ?").run(id);
  }

  setRepoDigest(ref: string, imageId: string) {
    this.db.query("INSERT OR REPLACE INTO repo_digests (ref, image_id) VALUES (?, ?)").run(ref, imageId);
  }

  repoDigestsOf(imageId: string): string[] {
    return (this.db.query("SELECT ref FROM repo_digests WHERE image_id = ? ORDER BY ref").all(imageId) as { ref: string }[]).map((r) => r.ref);
  }

  getRepoDigest(ref: string): string | undefined {
    return (this.db.query("SELECT image_id FROM repo_digests WHERE ref = ?").get(ref) as { image_id: string } | null)?.image_id;
  }

  addBlobSource(digest: string, domain: string, repo: string) {
    this.db.query("INSERT OR IGNORE INTO blob_sources (digest, domain, repo) VALUES (?, ?, ?)").run(digest, domain, repo);
  }

  /** Repositories of a registry known to hold a blob. */
  blobSources(digest: string, domain: string): string[] {
    return (this.db.query("SELECT repo FROM blob_sources WHERE digest = ? AND domain = ?").all(digest, domain) as { repo: string }[]).map((r) => r.repo);
  }

  setTag(ref: string, imageId: string) {
    this.db.query("INSERT OR REPLACE INTO tags (ref, image_id) VALUES (?, ?)").run(ref, imageId);
  }

  getTag(ref: string): string | undefined {
    return (this.db.query("SELECT image_id FROM tags WHERE ref = ?").get(ref) as { image_id: string } | null)?.image_id;
  }

  tagsOf(imageId: string): string[] {
    return (this.db.query("SELECT ref FROM tags WHERE image_id = ? ORDER BY ref").all(imageId) as { ref: string }[]).map((r) => r.ref);
  }

  deleteTag(ref: string) {
    this.db.query("DELETE FROM tags WHERE ref = ?").run(ref);
  }

  // ------------------------------------------------------------ layers

  putLayer(row: LayerRow) {
    this.db
      .query("INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, blob, media_type, blob_size, size) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(row.chain_id, row.diff_id, row.parent, row.blob, row.media_type, row.blob_size, row.size);
  }

  getLayer(chainId: string): LayerRow | undefined {
    return (this.db.query("SELECT * FROM layers WHERE chain_id = ?").get(chainId) as LayerRow | null) ?? undefined;
  }

  listLayers(): LayerRow[] {
    return this.db.query("SELECT * FROM layers").all() as LayerRow[];
  }

  deleteLayer(chainId: string) {
    this.db.query("DELETE FROM layers WHERE chain_id = ?").run(chainId);
  }

  // ------------------------------------------------------------ containers

  insertContainer(c: ContainerRecord) {
    c.Owner ??= currentOwner();
    this.db
      .query("INSERT INTO containers (id, name, image_id, record) VALUES (?, ?, ?, ?)")
      .run(c.Id, c.Name, c.Image, JSON.stringify(c));
  }

  saveContainer(c: ContainerRecord) {
    this.db.query("UPDATE containers SET name = ?, record = ? WHERE id = ?").run(c.Name, JSON.stringify(c), c.Id);
  }

  getContainer(id: string): ContainerRecord | undefined {
    const row = this.db.query("SELECT record FROM containers WHERE id = ?").get(id) as { record: string } | null;
    return row ? JSON.parse(row.record) : undefined;
  }

  /** By exact name ("/web" or "web"). */
  getContainerByName(name: string): ContainerRecord | undefined {
    const n = name.startsWith("/") ? name : `/${name}`;
    const row = this.db.query("SELECT record FROM containers WHERE name = ?").get(n) as { record: string } | null;
    return row ? JSON.parse(row.record) : undefined;
  }

  findContainers(idPrefix: string): ContainerRecord[] {
    const rows = this.db.query("SELECT record FROM containers WHERE id >= ? AND id < ? || 'g'").all(idPrefix, idPrefix) as { record: string }[];
    return rows.map((r) => JSON.parse(r.record));
  }

  listContainers(): ContainerRecord[] {
    const rows = this.db.query("SELECT record FROM containers").all() as { record: string }[];
    return rows.map((r) => JSON.parse(r.record) as ContainerRecord).sort((a, b) => byteOrder(b.Created, a.Created));
  }

  deleteContainer(id: string) {
    this.db.query("DELETE FROM containers WHERE id = ?").run(id);
  }

  // ------------------------------------------------------------ volumes

  putVolume(v: VolumeRecord) {
    v.Owner ??= currentOwner(); // a new one: its creator's (an update keeps the one it has)
    this.db.query("INSERT OR REPLACE INTO volumes (name, record) VALUES (?, ?)").run(v.Name, JSON.stringify(v));
  }

  listVolumes(): VolumeRecord[] {
    return (this.db.query("SELECT record FROM volumes ORDER BY name").all() as { record: string }[]).map((r) => JSON.parse(r.record));
  }

  deleteVolume(name: string) {
    this.db.query("DELETE FROM volumes WHERE name = ?").run(name);
  }

  // ------------------------------------------------------------ networks

  putNetwork(n: NetworkRecord) {
    n.Owner ??= currentOwner(); // a new one: its creator's (an update keeps the one it has)
    this.db.query("INSERT OR REPLACE INTO networks (id, name, record) VALUES (?, ?, ?)").run(n.Id, n.Name, JSON.stringify(n));
  }

  listNetworks(): NetworkRecord[] {
    return (this.db.query("SELECT record FROM networks ORDER BY name").all() as { record: string }[]).map((r) => JSON.parse(r.record));
  }

  deleteNetwork(id: string) {
    this.db.query("DELETE FROM networks WHERE id = ?").run(id);
  }

  // ------------------------------------------------------------ events

  /** Append an event, keeping the newest `keep`. */
  addEvent(timeNano: bigint, event: object, keep = 10_000) {
    const { lastInsertRowid } = this.db.query("INSERT INTO events (time_nano, event) VALUES (?, ?)").run(timeNano, JSON.stringify(event));
    if (Number(lastInsertRowid) % 1000 === 0) this.db.query("DELETE FROM events WHERE seq <= ?").run(Number(lastInsertRowid) - keep);
  }

  /** Events with since <= time <= until, oldest first. */
  eventsBetween(sinceNano: bigint, untilNano: bigint): object[] {
    const rows = this.db.query("SELECT event FROM events WHERE time_nano >= ? AND time_nano <= ? ORDER BY seq").all(sinceNano, untilNano) as { event: string }[];
    return rows.map((r) => JSON.parse(r.event));
  }
}

interface ImageRow {
  id: string;
  config: string;
  manifest_digest: string;
  size: number;
  created: string;
  parent: string;
}

const toImage = (r: ImageRow): ImageRecord => ({
  id: r.id,
  config: JSON.parse(r.config),
  manifestDigest: r.manifest_digest,
  size: r.size,
  created: r.created,
  ...(r.parent ? { parent: r.parent } : {}),
});
