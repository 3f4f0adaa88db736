// tests/sdk/connect.test.js - the official 1Password Connect JS SDK
// (@1password/connect, the version pinned in package.json) against a real
// connect-api (issue 5, "Compatibility proof"). Started by tests/sdk/run,
// which creates the account, the items and the tokens, starts the daemons
// and passes everything through the environment (tokens are never printed).
//
// Every public method of OPConnect is called: vaults (list, by title,
// get by id/title), items (list, by title, title contains, get by id/title,
// OTP, create with ItemBuilder, update, delete by id/title), files (list,
// get, content, content stream); the tag filter, for which the SDK has no
// method, goes through the SDK's own request adapter. Read-only and
// write-only tokens are refused (403) where they lack permission, and the
// SDK's 404s are checked: unknown ids (also ids with 0, 1, 8, 9, which the
// SDK takes for ids), vaults the server holds no grant for. X-Request-ID
// goes round trip (plain fetch: the SDK sets no such header).
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const {
    OnePasswordConnect,
    ItemBuilder,
    ItemCategory,
    FieldType,
    FieldPurpose,
    FullItem,
} = require("@1password/connect");

const env = (name) => {
    const v = process.env[name];
    if (!v) {
        throw new Error(`tests/sdk/connect.test.js: ${name} is not set (run tests/sdk/run)`);
    }
    return v;
};
const URL = env("OPC_URL");
const VAULT = env("OPC_VAULT");
const VAULT_TITLE = env("OPC_VAULT_TITLE");
const OTHER_VAULT = env("OPC_OTHER_VAULT");
const SECRET_VAULT = env("OPC_SECRET_VAULT");
const WEB_PASSWORD = env("OPC_WEB_PASSWORD");
const FILE_CONTENT = env("OPC_FILE_CONTENT");
const NOITEM = "bbbbbbbbbbbbbbbbbbbbbbbbbb";
// Ids the SDK takes for ids ([a-z0-9]{26}) that the server could never have
// made (its ids are base32: no 0, 1, 8 or 9): unknown, so 404.
const DIGIT_IDS = ["a0b1c8d9eeeeeeeeeeeeeeeeee", "01890189018901890189018901", "zzzzzzzzzzzzzzzzzzzzzzzzz8"];
const NOVAULT = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
const T = { timeout: 30000 };

// A rejection of the SDK as a plain {status, message} (or a fresh Error):
// the SDK rejects with the parsed JSON error body, but a content call asks
// axios for a stream and rejects with the response stream, whose request
// object holds the raw Authorization header. The test output must never
// show a token, so no SDK rejection reaches the reporter as it is.
async function cleanError(e) {
    if (e !== null && typeof e === "object" && typeof e.on === "function" && e.readable !== undefined) {
        const chunks = [];
        for await (const c of e) {
            chunks.push(Buffer.from(c));
        }
        const text = Buffer.concat(chunks).toString();
        try {
            const body = JSON.parse(text);
            return { status: body.status, message: body.message };
        } catch (_) {
            return { status: e.statusCode, message: `non-JSON body: ${text.slice(0, 200)}` };
        }
    }
    if (e !== null && typeof e === "object" && typeof e.status === "number") {
        return { status: e.status, message: e.message };
    }
    const err = new Error(e && e.message ? String(e.message) : String(e));
    if (e && e.code) {
        err.code = e.code;
    }
    return err;
}

function guarded(client) {
    return new Proxy(client, {
        get(target, prop) {
            const v = target[prop];
            if (typeof v !== "function") {
                return v;
            }
            return async (...args) => {
                try {
                    return await v.apply(target, args);
                } catch (e) {
                    throw await cleanError(e);
                }
            };
        },
    });
}

const rw = guarded(OnePasswordConnect({ serverURL: URL, token: env("OPC_TOKEN_RW"), keepAlive: true }));
const ro = guarded(OnePasswordConnect({ serverURL: URL, token: env("OPC_TOKEN_R") }));
const wo = guarded(OnePasswordConnect({ serverURL: URL, token: env("OPC_TOKEN_W") }));

const ID = /^[a-z0-9]{26}$/;

// The SDK rejects with the server's parsed JSON error body {status, message}
// (or its own error of the same shape for title lookups).
function httpError(status, message) {
    return (e) => {
        assert.equal(e.status, status, `status ${e.status} (want ${status}): ${JSON.stringify(e)}`);
        assert.equal(typeof e.message, "string");
        assert.ok(e.message.length > 0);
        if (message) {
            assert.match(e.message, message);
        }
        return true;
    };
}

// RFC 6238 (SHA-1, 30 s, 6 digits) for the base32 secret, at counter c.
function totp(secret, c) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bits = "";
    for (const ch of secret) {
        bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
    }
    const bytes = [];
    for (let i = 0; i + 8 <= bits.length; i += 8) {
        bytes.push(parseInt(bits.slice(i, i + 8), 2));
    }
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(c));
    const h = crypto.createHmac("sha1", Buffer.from(bytes)).update(msg).digest();
    const o = h[h.length - 1] & 15;
    return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

// The rejection of a call that must fail (already cleaned by guarded()).
async function rejection(promise) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    assert.fail("the call was not refused");
}

function passwordOf(item) {
    const f = item.fields.find((x) => x.purpose === "PASSWORD");
    return f ? f.value : undefined;
}

// ---------------- vaults ----------------

test("listVaults: the token's vault, with its Connect members", T, async () => {
    const vaults = await rw.listVaults();
    assert.ok(Array.isArray(vaults));
    const v = vaults.find((x) => x.id === VAULT);
    assert.ok(v, "the vault is listed");
    assert.equal(v.name, VAULT_TITLE);
    assert.equal(typeof v.contentVersion, "number");
    assert.ok(v.createdAt instanceof Date && !isNaN(v.createdAt), "createdAt parses as a Date");
});

test("listVaultsByTitle: exact title, and [] for no match", T, async () => {
    const vaults = await rw.listVaultsByTitle(VAULT_TITLE);
    assert.deepEqual(vaults.map((v) => v.id), [VAULT]);
    assert.deepEqual(await rw.listVaultsByTitle("no such vault"), []);
});

test("getVault by id and by title, getVaultById, getVaultByTitle", T, async () => {
    assert.equal((await rw.getVault(VAULT)).name, VAULT_TITLE);
    assert.equal((await rw.getVault(VAULT_TITLE)).id, VAULT);
    assert.equal((await rw.getVaultById(VAULT)).name, VAULT_TITLE);
    assert.equal((await rw.getVaultByTitle(VAULT_TITLE)).id, VAULT);
});

test("getVaultByTitle with no match: the SDK's 404", T, async () => {
    await assert.rejects(rw.getVaultByTitle("no such vault"), httpError(404));
});

test("getVaultById of a vault outside the token: 403 (not in scope)", T, async () => {
    await assert.rejects(rw.getVaultById(OTHER_VAULT), httpError(403, /not in scope/));
});

test("getVaultById / getVault / listItems of a vault the server has no grant for: 404", T, async () => {
    for (const v of [SECRET_VAULT, NOVAULT]) {
        const msg = new RegExp(`vault ${v} not found`);
        await assert.rejects(rw.getVaultById(v), httpError(404, msg));
        await assert.rejects(rw.getVault(v), httpError(404, msg));
        await assert.rejects(rw.listItems(v), httpError(404, msg));
        await assert.rejects(rw.getItemById(v, NOITEM), httpError(404, msg));
        await assert.rejects(ro.getVaultById(v), httpError(404, msg));
    }
});

test("ids with 0, 1, 8, 9: the SDK sends them as ids, and they are unknown (404)", T, async () => {
    for (const id of DIGIT_IDS) {
        const vmsg = new RegExp(`vault ${id} not found`);
        await assert.rejects(rw.getVaultById(id), httpError(404, vmsg));
        await assert.rejects(rw.getVault(id), httpError(404, vmsg));
        await assert.rejects(rw.listItems(id), httpError(404, vmsg));
        await assert.rejects(rw.getItemById(id, NOITEM), httpError(404, vmsg));
        const imsg = new RegExp(`item ${id} not found`);
        await assert.rejects(rw.getItemById(VAULT, id), httpError(404, imsg));
        await assert.rejects(rw.getItem(VAULT, id), httpError(404, imsg));
        await assert.rejects(rw.deleteItemById(VAULT, id), httpError(404, imsg));
    }
});

test("X-Request-ID: the client's comes back on success and error; else a fresh UUID", T, async () => {
    const auth = { Authorization: `Bearer ${env("OPC_TOKEN_RW")}` };
    const cases = [
        [`/v1/vaults/${VAULT}`, 200],
        [`/v1/vaults/${VAULT}/items/${DIGIT_IDS[0]}`, 404],
        [`/v1/vaults/${OTHER_VAULT}`, 403],
        ["/heartbeat", 200],
    ];
    for (const [path, status] of cases) {
        const rid = `sdk-${status}-${crypto.randomUUID()}`;
        const res = await fetch(URL + path, { headers: { ...auth, "X-Request-ID": rid } });
        await res.arrayBuffer();
        assert.equal(res.status, status, path);
        assert.equal(res.headers.get("x-request-id"), rid, path);
    }
    const res = await fetch(`${URL}/v1/vaults`, { headers: auth });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.match(res.headers.get("x-request-id"), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const long = "x".repeat(129);
    const res2 = await fetch(`${URL}/heartbeat`, { headers: { "X-Request-ID": long } });
    await res2.arrayBuffer();
    assert.notEqual(res2.headers.get("x-request-id"), long);
    assert.equal(res2.headers.get("x-request-id").length, 36);
});

// ---------------- reading items ----------------

test("listItems: summaries without fields", T, async () => {
    const items = await rw.listItems(VAULT);
    const web = items.find((i) => i.title === "Web Login");
    assert.ok(web, "Web Login is listed");
    assert.match(web.id, ID);
    assert.equal(web.vault.id, VAULT);
    assert.equal(web.category, "LOGIN");
    assert.equal(web.fields, undefined);
});

test("listItemsByTitle: full items with their fields", T, async () => {
    const items = await rw.listItemsByTitle(VAULT, "Web Login");
    assert.equal(items.length, 1);
    assert.equal(passwordOf(items[0]), WEB_PASSWORD);
    assert.deepEqual(await rw.listItemsByTitle(VAULT, "no such item"), []);
});

test("listItemsByTitleContains: title co", T, async () => {
    const items = await rw.listItemsByTitleContains(VAULT, "Log");
    assert.ok(items.some((i) => i.title === "Web Login"));
    assert.ok(items.every((i) => i.title.includes("Log")));
    assert.ok(items.every((i) => Array.isArray(i.fields)), "full items");
});

test("tag eq filter through the SDK's request adapter (1.4.2 has no tag method)", T, async () => {
    const adapter = guarded(rw.httpAdapter);
    const { status, data } = await adapter.sendRequest("get", `v1/vaults/${VAULT}/items/?filter=tag eq "web"`);
    assert.equal(status, 200);
    assert.deepEqual(data.map((i) => i.title), ["Web Login"]);
});

test("getItem by id and by title, getItemById, getItemByTitle", T, async () => {
    const byTitle = await rw.getItem(VAULT, "Web Login");
    assert.match(byTitle.id, ID);
    const byId = await rw.getItem(VAULT, byTitle.id);
    assert.equal(byId.title, "Web Login");
    assert.equal(passwordOf(await rw.getItemById(VAULT, byTitle.id)), WEB_PASSWORD);
    const t = await rw.getItemByTitle(VAULT, "Web Login");
    assert.equal(t.id, byTitle.id);
    assert.ok(t instanceof FullItem);
    assert.ok(t.createdAt instanceof Date && !isNaN(t.createdAt));
    assert.deepEqual(t.tags, ["web"]);
    assert.equal(t.urls[0].href, "https://example.com/login");
});

test("getItemOTP by title and by id: the RFC 6238 code", T, async () => {
    const code = await rw.getItemOTP(VAULT, "Two Factor");
    const c = Math.floor(Date.now() / 1000 / 30);
    const ok = [c - 1, c, c + 1].map((n) => totp("JBSWY3DPEHPK3PXP", n));
    assert.ok(ok.includes(code), `code ${code}`);
    const item = await rw.getItemByTitle(VAULT, "Two Factor");
    assert.match(await rw.getItemOTP(VAULT, item.id), /^[0-9]{6}$/);
    assert.match(item.extractOTP(), /^[0-9]{6}$/);
    const f = item.fields.find((x) => x.type === FieldType.Otp);
    assert.match(f.value, /^otpauth:\/\/totp\//);
});

test("getItemOTP of an item without OTP: the SDK's error", T, async () => {
    await assert.rejects(rw.getItemOTP(VAULT, "Web Login"), /OTP/);
});

test("404: getItemById of an unknown id is the server's JSON error", T, async () => {
    await assert.rejects(rw.getItemById(VAULT, NOITEM), httpError(404, new RegExp(`item ${NOITEM} not found`)));
    await assert.rejects(rw.getItem(VAULT, NOITEM), httpError(404));
});

test("404: getItemByTitle / getItem / getItemOTP with no such title", T, async () => {
    await assert.rejects(rw.getItemByTitle(VAULT, "no such item"), httpError(404));
    await assert.rejects(rw.getItem(VAULT, "no such item"), httpError(404));
    await assert.rejects(rw.getItemOTP(VAULT, "no such item"), httpError(404));
});

// ---------------- writing items ----------------

let created; // the item made with ItemBuilder

test("createItem with ItemBuilder: generated password with a recipe, sections, urls, tags", T, async () => {
    const item = new ItemBuilder()
        .setCategory(ItemCategory.Login)
        .setTitle("SDK Created")
        .addTag("sdk")
        .addTag("builder")
        .addUrl({ href: "https://sdk.example/login", primary: true })
        .addUrl({ href: "https://sdk.example/backup" })
        .toggleFavorite()
        .addSection("Database")
        .addField({ label: "username", purpose: FieldPurpose.Username, value: "sdk-user" })
        .addField({
            label: "password",
            purpose: FieldPurpose.Password,
            type: FieldType.Concealed,
            generate: true,
            recipe: { length: 30, characterSets: ["LETTERS", "DIGITS"], excludeCharacters: "abcdef" },
        })
        .addField({ label: "host", value: "db.internal", sectionName: "Database" })
        .addField({
            label: "api key",
            type: FieldType.Concealed,
            sectionName: "Database",
            generate: true,
            recipe: { length: 40, characterSets: ["SYMBOLS", "DIGITS"] },
        })
        .addField({ label: "expires", type: FieldType.Date, value: "2030-01-31", sectionName: "Database" })
        .addField({
            label: "one-time",
            type: FieldType.Otp,
            value: "otpauth://totp/SDK:me?secret=JBSWY3DPEHPK3PXP&issuer=SDK",
        })
        .build();
    const sectionId = item.sections[0].id;
    assert.match(sectionId, /^Section_/);
    created = await rw.createItem(VAULT, item);
    assert.ok(created instanceof FullItem);
    assert.match(created.id, ID);
    assert.equal(created.vault.id, VAULT);
    assert.equal(created.version, 1);
    assert.equal(created.title, "SDK Created");
    assert.equal(created.category, "LOGIN");
    assert.equal(created.favorite, true);
    assert.deepEqual(created.tags, ["sdk", "builder"]);
    assert.deepEqual(created.urls.map((u) => u.href), ["https://sdk.example/login", "https://sdk.example/backup"]);
    assert.equal(created.urls[0].primary, true);
    assert.deepEqual(created.sections.map((x) => ({ id: x.id, label: x.label })), [{ id: sectionId, label: "Database" }]);
    const pw = created.fields.find((f) => f.purpose === "PASSWORD");
    assert.match(pw.value, /^[A-Za-z0-9]{30}$/);
    assert.doesNotMatch(pw.value, /[abcdef]/);
    assert.ok(pw.entropy > 100, `entropy ${pw.entropy}`);
    assert.equal(created.fields.find((f) => f.purpose === "USERNAME").value, "sdk-user");
    const key = created.fields.find((f) => f.label === "api key");
    assert.equal(key.value.length, 40);
    assert.doesNotMatch(key.value, /[A-Za-z]/);
    assert.ok(key.entropy > 0);
    assert.equal(key.section.id, sectionId);
    for (const f of created.fields) {
        assert.ok(typeof f.id === "string" && f.id.length > 0, "every field has an id");
    }
    assert.equal(created.fields.find((f) => f.label === "host").section.id, sectionId);
    assert.ok(created.fields.some((f) => f.id === "notesPlain"), "LOGIN's built-in notesPlain");
    assert.match(created.extractOTP(), /^[0-9]{6}$/);
});

test("read-your-write: getItemById right after createItem", T, async () => {
    const got = await rw.getItemById(VAULT, created.id);
    assert.equal(got.version, created.version);
    assert.deepEqual(
        got.fields.map((f) => [f.id, f.value, f.entropy]),
        created.fields.map((f) => [f.id, f.value, f.entropy]),
    );
    assert.deepEqual(got.sections, created.sections);
    assert.equal((await rw.listItemsByTitle(VAULT, "SDK Created")).length, 1);
});

let updated;

test("updateItem: the SDK PUTs the whole item back (read-only members included)", T, async () => {
    const item = await rw.getItemById(VAULT, created.id);
    item.title = "SDK Updated";
    item.tags = ["sdk", "updated"];
    item.fields.find((f) => f.label === "host").value = "db2.internal";
    item.fields.find((f) => f.purpose === "PASSWORD").value = "changed-by-the-sdk";
    item.fields.push({ label: "added", type: "STRING", value: "by updateItem" });
    updated = await rw.updateItem(VAULT, item);
    assert.equal(updated.id, created.id);
    assert.equal(updated.version, created.version + 1);
    assert.equal(updated.title, "SDK Updated");
    assert.deepEqual(updated.tags, ["sdk", "updated"]);
    assert.equal(updated.fields.find((f) => f.label === "host").value, "db2.internal");
    assert.equal(passwordOf(updated), "changed-by-the-sdk");
    assert.match(updated.fields.find((f) => f.label === "added").id, ID);
    const again = await rw.getItem(VAULT, "SDK Updated");
    assert.equal(again.version, updated.version);
    assert.equal(passwordOf(again), "changed-by-the-sdk");
    assert.equal(again.createdAt.getTime(), created.createdAt.getTime());
    assert.ok(!("passwordHistory" in again));
});

test("updateItem with a stale version: 409, nothing changed", T, async () => {
    const stale = await rw.getItemById(VAULT, created.id);
    stale.version = created.version; // the version before the update
    stale.title = "stale write";
    await assert.rejects(rw.updateItem(VAULT, stale), httpError(409));
    assert.equal((await rw.getItemById(VAULT, created.id)).title, "SDK Updated");
});

test("updateItem of a deleted/unknown item: 404", T, async () => {
    const item = await rw.getItemById(VAULT, created.id);
    item.id = NOITEM;
    await assert.rejects(rw.updateItem(VAULT, item), httpError(404));
});

test("createItem with an invalid body: the server's 400 message", T, async () => {
    const bad = new ItemBuilder()
        .setCategory(ItemCategory.Login)
        .setTitle("bad date")
        .addField({ label: "d", type: FieldType.Date, value: "2023-02-30" })
        .build();
    await assert.rejects(rw.createItem(VAULT, bad), httpError(400));
    const custom = new ItemBuilder().setCategory(ItemCategory.Custom).setTitle("custom").build();
    await assert.rejects(rw.createItem(VAULT, custom), httpError(400, /Invalid item category/));
    assert.deepEqual(await rw.listItemsByTitle(VAULT, "bad date"), []);
});

test("deleteItem by id, deleteItemById, deleteItemByTitle, deleteItem by title", T, async () => {
    const mk = async (title) =>
        rw.createItem(VAULT, new ItemBuilder().setCategory(ItemCategory.SecureNote).setTitle(title).build());
    const a = await mk("SDK delete a");
    const b = await mk("SDK delete b");
    await mk("SDK delete c");
    await mk("SDK delete d");
    assert.equal(await rw.deleteItem(VAULT, a.id), undefined);
    await rw.deleteItemById(VAULT, b.id);
    await rw.deleteItemByTitle(VAULT, "SDK delete c");
    await rw.deleteItem(VAULT, "SDK delete d");
    await assert.rejects(rw.getItemById(VAULT, a.id), httpError(404));
    await assert.rejects(rw.getItemById(VAULT, b.id), httpError(404));
    assert.deepEqual(await rw.listItemsByTitleContains(VAULT, "SDK delete"), []);
});

test("404: deleting an unknown id, or a title that is gone", T, async () => {
    await assert.rejects(rw.deleteItemById(VAULT, NOITEM), httpError(404));
    await assert.rejects(rw.deleteItemByTitle(VAULT, "SDK delete a"), httpError(404));
});

// ---------------- files ----------------

let attached; // the item with an attachment

// tests/sdk/run sets OPC_FILES_TODO when the server has no files routes at
// all (GET .../files is an unknown route): the files tests then run as
// TODO (reported, not counted) until the files endpoints are merged.
const FILES = process.env.OPC_FILES_TODO ? { ...T, todo: process.env.OPC_FILES_TODO } : T;

test("getItemByTitle of an item with a file: files with id, name, size, content_path", T, async () => {
    attached = await rw.getItemByTitle(VAULT, "Attached");
    assert.equal(attached.files.length, 1, "the item shows its file");
    const f = attached.files[0];
    assert.match(f.id, ID);
    assert.equal(f.name, "runbook");
    assert.equal(f.size, Buffer.byteLength(FILE_CONTENT));
    assert.equal(f.content_path, `/v1/vaults/${VAULT}/items/${attached.id}/files/${f.id}/content`);
});

test("listFiles by vault and item id: the attachment, content_path with a leading /", FILES, async () => {
    const files = await rw.listFiles(VAULT, attached.id);
    assert.equal(files.length, 1);
    const f = files[0];
    assert.equal(f.id, attached.files[0].id);
    assert.equal(f.name, "runbook");
    assert.equal(f.size, Buffer.byteLength(FILE_CONTENT));
    assert.equal(f.content_path, `/v1/vaults/${VAULT}/items/${attached.id}/files/${f.id}/content`);
});

test("listFiles by vault and item title", FILES, async () => {
    const files = await rw.listFiles(VAULT_TITLE, "Attached");
    assert.deepEqual(files.map((f) => f.name), ["runbook"]);
});

test("getFileById", FILES, async () => {
    const fid = attached.files[0].id;
    const f = await rw.getFileById(VAULT, attached.id, fid);
    assert.equal(f.id, fid);
    assert.equal(f.name, "runbook");
    assert.equal(f.size, Buffer.byteLength(FILE_CONTENT));
});

test("getFileContent: the bytes", FILES, async () => {
    const content = await rw.getFileContent(VAULT, attached.id, attached.files[0].id);
    assert.equal(content, FILE_CONTENT);
    assert.equal(await rw.getFileContent(VAULT_TITLE, "Attached", attached.files[0].id), FILE_CONTENT);
});

test("getFileContentStream: the bytes as a stream", FILES, async () => {
    const stream = await rw.getFileContentStream(VAULT, attached.id, attached.files[0].id);
    const chunks = [];
    for await (const c of stream) {
        chunks.push(Buffer.from(c));
    }
    assert.equal(Buffer.concat(chunks).toString(), FILE_CONTENT);
});

test("files of an unknown file id: 404 naming the file", FILES, async () => {
    await assert.rejects(rw.getFileById(VAULT, attached.id, NOITEM), httpError(404, new RegExp(NOITEM)));
    await assert.rejects(
        rw.getFileById(VAULT, attached.id, DIGIT_IDS[0]),
        httpError(404, new RegExp(`file ${DIGIT_IDS[0]} not found`)),
    );
    const e = await rejection(rw.getFileContent(VAULT, attached.id, NOITEM));
    assert.equal(e.status, 404);
    assert.match(e.message, new RegExp(NOITEM));
});

// ---------------- a read-only token ----------------

test("read-only token: reads work", T, async () => {
    assert.deepEqual((await ro.listVaults()).map((v) => v.id), [VAULT]);
    assert.equal(passwordOf(await ro.getItemByTitle(VAULT, "Web Login")), WEB_PASSWORD);
    assert.match(await ro.getItemOTP(VAULT, "Two Factor"), /^[0-9]{6}$/);
});

test("read-only token: createItem, updateItem, deleteItem are 403 and change nothing", T, async () => {
    const before = await rw.getItemById(VAULT, updated.id);
    const item = new ItemBuilder().setCategory(ItemCategory.Login).setTitle("by a read-only token").build();
    await assert.rejects(ro.createItem(VAULT, item), httpError(403, /permission/));
    const copy = await ro.getItemById(VAULT, updated.id);
    copy.title = "changed by a read-only token";
    await assert.rejects(ro.updateItem(VAULT, copy), httpError(403, /permission/));
    await assert.rejects(ro.deleteItemById(VAULT, updated.id), httpError(403, /permission/));
    await assert.rejects(ro.deleteItemByTitle(VAULT, "SDK Updated"), httpError(403, /permission/));
    const after = await rw.getItemById(VAULT, updated.id);
    assert.equal(after.version, before.version);
    assert.equal(after.title, "SDK Updated");
    assert.deepEqual(await rw.listItemsByTitle(VAULT, "by a read-only token"), []);
});

// ---------------- a write-only token ----------------

test("write-only token: no vault listed, every read is 403", T, async () => {
    assert.deepEqual(await wo.listVaults(), []);
    assert.deepEqual(await wo.listVaultsByTitle(VAULT_TITLE), []);
    await assert.rejects(wo.getVaultById(VAULT), httpError(403, /permission/));
    await assert.rejects(wo.listItems(VAULT), httpError(403, /permission/));
    await assert.rejects(wo.getItemById(VAULT, updated.id), httpError(403, /permission/));
    await assert.rejects(wo.getItemByTitle(VAULT, "SDK Updated"), httpError(403, /permission/));
    await assert.rejects(wo.listItemsByTitleContains(VAULT, "SDK"), httpError(403, /permission/));
    await assert.rejects(wo.getItemOTP(VAULT, "Two Factor"), httpError(403, /permission/));
    await assert.rejects(wo.deleteItemByTitle(VAULT, "SDK Updated"), httpError(403, /permission/));
});

test("write-only token: files are 403 (list, get, content)", FILES, async () => {
    const fid = attached.files[0].id;
    await assert.rejects(wo.listFiles(VAULT, attached.id), httpError(403, /permission/));
    await assert.rejects(wo.getFileById(VAULT, attached.id, fid), httpError(403, /permission/));
    assert.equal((await rejection(wo.getFileContent(VAULT, attached.id, fid))).status, 403);
});

test("write-only token: createItem and deleteItemById are allowed; the answer shows only its own item", T, async () => {
    const item = new ItemBuilder()
        .setCategory(ItemCategory.Password)
        .setTitle("from a write-only token")
        .addField({ label: "password", purpose: FieldPurpose.Password, generate: true, recipe: { length: 20 } })
        .build();
    const made = await wo.createItem(VAULT, item);
    assert.match(made.id, ID);
    assert.equal(passwordOf(made).length, 20);
    const seen = await rw.getItemById(VAULT, made.id);
    assert.equal(passwordOf(seen), passwordOf(made));
    await wo.deleteItemById(VAULT, made.id);
    await assert.rejects(rw.getItemById(VAULT, made.id), httpError(404));
});

test("write-only token: updateItem answers without the stored files", T, async () => {
    const item = await rw.getItemById(VAULT, attached.id);
    const body = {
        id: item.id,
        title: "Attached",
        category: item.category,
        vault: { id: VAULT },
        fields: [{ id: "password", purpose: "PASSWORD", type: "CONCEALED", value: "set by a write-only token" }],
    };
    const answer = await wo.updateItem(VAULT, body);
    assert.equal(answer.title, "Attached");
    assert.ok(!answer.files || answer.files.length === 0, "no stored files in the answer");
    const after = await rw.getItemById(VAULT, attached.id);
    assert.equal(after.files.length, 1, "the item keeps its file");
    assert.equal(passwordOf(after), "set by a write-only token");
});

test("the created item is deleted at the end (deleteItem by title)", T, async () => {
    await rw.deleteItem(VAULT, "SDK Updated");
    await assert.rejects(rw.getItemById(VAULT, created.id), httpError(404));
});
