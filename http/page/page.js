/*
 * page.js -- the debug page's logic (inlined into index.html at build time).
 *
 * Every figure comes from this server's JSON endpoints (docs/api.md), called
 * with fetch() on the page's own origin. Under GLASSHEAP_TOKEN the first
 * call gets 401: the page then asks for the token, keeps it in
 * sessionStorage (this tab only) and sends "Authorization: Bearer" with
 * every call. Text from the server (type names, frames, source lines) is
 * only ever set as textContent, never parsed as HTML.
 */
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "glassheap.token";

/* ---- Calls ------------------------------------------------------------------------ */

let tokenWaiters = null;

function askToken() {
	if (!tokenWaiters) {
		tokenWaiters = [];
		$("token-dialog").hidden = false;
		$("token-input").value = "";
		$("token-input").focus();
	}
	return new Promise((resolve) => tokenWaiters.push(resolve));
}

$("token-form").addEventListener("submit", (ev) => {
	ev.preventDefault();
	const t = $("token-input").value.trim();
	if (!t) return;
	sessionStorage.setItem(TOKEN_KEY, t);
	$("token-dialog").hidden = true;
	const w = tokenWaiters || [];
	tokenWaiters = null;
	w.forEach((resolve) => resolve());
});

function status(text, err) {
	$("status").textContent = text;
	$("status").className = err ? "err" : "";
}

/* One call; resolves to {status, body} (body: parsed JSON, or text).
 * A 401 asks for the token and tries again. */
async function api(method, path, params) {
	const qs = params ? "?" + new URLSearchParams(params).toString() : "";
	for (;;) {
		const headers = { Accept: "application/json" };
		const token = sessionStorage.getItem(TOKEN_KEY);
		if (token) headers.Authorization = "Bearer " + token;
		let r;
		try {
			r = await fetch(path + qs, { method, headers, cache: "no-store" });
		} catch (e) {
			status("cannot reach the server: " + e.message, true);
			throw e;
		}
		if (r.status === 401) {
			status("the server wants a token");
			await askToken();
			continue;
		}
		const ct = r.headers.get("content-type") || "";
		const body = ct.startsWith("application/json") ? await r.json() : await r.text();
		status(`${method} ${path}: ${r.status}`, r.status >= 400);
		return { status: r.status, body };
	}
}

function detail(body) {
	if (body && typeof body.detail === "string") return body.detail;
	if (body && Array.isArray(body.detail)) return body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
	return String(body);
}

/* ---- Rendering helpers -------------------------------------------------------------- */

function fmtBytes(n) {
	if (typeof n !== "number") return "?";
	const u = ["B", "KiB", "MiB", "GiB", "TiB"];
	let i = 0, v = n;
	while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
	return i === 0 ? `${n} B` : `${v.toFixed(1)} ${u[i]}`;
}

function cards(el, items) {
	el.replaceChildren(...items.map(([k, v, id]) => {
		const c = document.createElement("div");
		c.className = "card";
		if (id) c.dataset.id = id;
		const a = document.createElement("div"), b = document.createElement("div");
		a.className = "k"; a.textContent = k;
		b.className = "v"; b.textContent = v;
		c.append(a, b);
		return c;
	}));
}

/* cells: [text, numeric?] pairs or plain text; returns the row. */
function row(cells) {
	const tr = document.createElement("tr");
	for (const c of cells) {
		const td = document.createElement("td");
		const [text, cls] = Array.isArray(c) ? c : [c, ""];
		td.textContent = text;
		if (cls) td.className = cls;
		tr.append(td);
	}
	return tr;
}

function fill(table, rows) {
	table.tBodies[0].replaceChildren(...rows);
}

/* A table sorted by clicking its headers: rows are objects, columns
 * (th data-key) their fields; render(obj) makes the row. */
function sortable(table, data, render) {
	const st = table._sort || (table._sort = { key: null, desc: true });
	const key = st.key;
	const rows = key ? [...data].sort((a, b) => {
		const x = a[key], y = b[key];
		const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
		return st.desc ? -c : c;
	}) : data;
	fill(table, rows.map(render));
	for (const th of table.tHead.rows[0].cells) {
		th.classList.toggle("asc", th.dataset.key === key && !st.desc);
		th.classList.toggle("desc", th.dataset.key === key && st.desc);
		th.onclick = () => {
			if (st.key === th.dataset.key) st.desc = !st.desc;
			else { st.key = th.dataset.key; st.desc = th.classList.contains("num") || th.dataset.key !== "type"; }
			sortable(table, data, render);
		};
	}
}

const where = (o) => (o.filename ? `${o.filename}:${o.lineno}` : o.site || "");

/* ---- Overview ---------------------------------------------------------------------- */

let knownTypes = [];

async function overview() {
	const r = await api("GET", "/debug/memory", { top_n: 100, sort_by: "size" });
	if (r.status !== 200) return;
	const d = r.body, a = d.allocator || {};
	cards($("overview-cards"), [
		["live objects", d.summary.total_objects, "objects"],
		["live bytes", fmtBytes(d.summary.total_size_bytes), "bytes"],
		["types", d.summary.unique_types, "types"],
		["RSS", fmtBytes(a.rss_bytes), "rss"],
		["gc passes", (d.gc_stats.collections || [])[2], "gc"],
		["leak suspects", d.gc_stats.garbage_count, "garbage"],
	]);
	knownTypes = d.top_objects.map((t) => t.type);
	sortable($("types-table"), d.top_objects, (t) =>
		row([t.type, [t.count, "num"], [t.total_size_bytes, "num"], [t.avg_size_bytes, "num"]]));
	const je = a.jemalloc || {};
	fill($("allocator-table"), [
		["requested bytes", a.requested_bytes], ["header bytes", a.header_bytes], ["rounding bytes", a.rounding_bytes],
		["jemalloc allocated", je.allocated], ["jemalloc active", je.active], ["jemalloc resident", je.resident],
		["jemalloc mapped", je.mapped], ["jemalloc metadata", je.metadata],
		["glassheap metadata (used)", (a.metadata || {}).used_bytes], ["cage used", (a.cage || {}).used_bytes],
		["RSS", a.rss_bytes],
	].filter(([, v]) => v !== undefined).map(([k, v]) => row([k, [v, "num"], [fmtBytes(v), "num"]])));
	const sel = $("ref-type"), cur = sel.value;
	sel.replaceChildren(...knownTypes.map((t) => new Option(t, t)));
	if (knownTypes.includes(cur)) sel.value = cur;
}

/* ---- Sites ------------------------------------------------------------------------- */

async function sites() {
	const r = await api("GET", "/debug/memory/sites", { top_n: 100, sort_by: $("sites-sort").value });
	const msg = $("sites-msg");
	if (r.status === 404) {
		msg.textContent = "Per-site figures are not available from this server (GET /debug/memory/sites answers 404).";
		msg.className = "msg";
		fill($("sites-table"), []);
		return;
	}
	if (r.status !== 200) { msg.textContent = detail(r.body); msg.className = "msg err"; return; }
	const rows = (r.body.top_sites || []).map((s) => Object.assign({ where: where(s) }, s));
	msg.textContent = `${rows.length} sites`;
	msg.className = "msg";
	sortable($("sites-table"), rows, (s) =>
		row([s.function || s.site, s.where, s.type, [s.count, "num"], [s.total_size_bytes, "num"]]));
}

/* ---- Leak check -------------------------------------------------------------------- */

async function leaks() {
	$("leaks-run").disabled = true;
	try {
		const r = await api("POST", "/debug/memory/gc");
		if (r.status !== 200) { cards($("leaks-cards"), [["error", detail(r.body)]]); return; }
		const d = r.body, u = d.unreachable || { summary: {}, by_type: [], by_site: [] };
		cards($("leaks-cards"), [
			["objects before", d.objects_before, "before"], ["collected", d.collected_objects, "collected"],
			["objects after", d.objects_after, "after"], ["leak suspects", d.gc_stats.garbage_count, "garbage"],
			["pause", `${Number(d.pause_ms).toFixed(2)} ms`, "pause"],
		]);
		fill($("leaks-classes"), Object.entries(u.summary).map(([k, v]) => row([k, [v.count, "num"], [v.bytes, "num"]])));
		const tr = [];
		for (const t of u.by_type)
			for (const k of ["definitely_lost", "indirectly_lost", "possibly_lost"])
				if (t[k] && t[k].count) tr.push(row([t.type, k, [t[k].count, "num"], [t[k].bytes, "num"]]));
		fill($("leaks-types"), tr);
		fill($("leaks-sites"), u.by_site.map((s) =>
			row([s.function || s.site, where(s), s.type, s.class, [s.count, "num"], [s.bytes, "num"]])));
	} finally {
		$("leaks-run").disabled = false;
	}
}

/* ---- Referrers ------------------------------------------------------------------------ */

async function referrers() {
	const t = $("ref-type").value;
	if (!t) return;
	const r = await api("GET", "/debug/memory/referrers", { type_name: t, max_referrers: 20 });
	if (r.status !== 200) { cards($("ref-cards"), [["error", detail(r.body)]]); return; }
	cards($("ref-cards"), [["type", r.body.type, "type"], ["objects", r.body.object_count, "objects"]]);
	fill($("ref-table"), r.body.top_referrers.map((x) => row([x.type, [x.count, "num"]])));
}

/* ---- Retainers (dominators) --------------------------------------------------------------- */

/* mode: "" (plain), "save" (keep as the page's baseline), "since" (compare with it) */
async function retainers(mode) {
	const params = { top_n: $("ret-top").value || 20 };
	if ($("ret-type").value) params.type_name = $("ret-type").value;
	if (mode === "save") params.save = "page_baseline";
	if (mode === "since") params.since = "page_baseline";
	const r = await api("GET", "/debug/memory/dominators", params);
	if (r.status !== 200) { cards($("ret-cards"), [["error", detail(r.body)]]); return; }
	const b = r.body;
	cards($("ret-cards"), [["objects", b.objects, "objects"], ["reachable", fmtBytes(b.reachable_bytes)],
		["pause", `${b.pause_ms.toFixed(1)} ms`], ["computed in", `${b.compute_ms.toFixed(1)} ms`],
		["work memory", fmtBytes(b.work_bytes)]]);
	const change = (x) => (typeof x.retained_bytes_delta === "number" ? fmtBytes(x.retained_bytes_delta) : "");
	fill($("ret-table"), b.top_retainers.map((x) => row([x.type, [fmtBytes(x.retained_bytes), "num"],
		[x.retained_objects, "num"], [fmtBytes(x.self_bytes), "num"], [change(x), "num"],
		x.filename ? `${x.function} (${x.filename.split("/").pop()}:${x.lineno})` : (x.function || x.site),
		x.path.join(" \u2192 ")])));
	fill($("ret-types"), b.by_type.map((x) => row([x.type, [fmtBytes(x.retained_bytes), "num"],
		[x.retained_objects, "num"], [change(x), "num"]])));
}

async function retainerTypes() {
	const r = await api("GET", "/debug/memory", { top_n: 100 });
	if (r.status !== 200) return;
	const sel = $("ret-type"), keep = sel.value;
	const opts = [["", "any"], ...r.body.top_objects.map((t) => [t.type, t.type])].map(([v, text]) => {
		const o = document.createElement("option");
		o.value = v; o.textContent = text;
		return o;
	});
	sel.replaceChildren(...opts);
	sel.value = keep;
}

/* ---- Tracemalloc ------------------------------------------------------------------------ */

let snapshots = [];
let traceSeq = 0; /* calls overlap (a click during a refresh): only the latest renders */

async function traceStatus() {
	const seq = ++traceSeq;
	const r = await api("GET", "/debug/tracemalloc/status");
	if (r.status !== 200 || seq !== traceSeq) return;
	const s = r.body;
	snapshots = s.available_snapshots || [];
	cards($("trace-cards"), [
		["tracing", s.is_tracing ? "on" : "off", "tracing"], ["frames", s.frames, "frames"],
		["current", `${s.current_mb} MiB`, "current"], ["peak", `${s.peak_mb} MiB`, "peak"],
		["snapshots", snapshots.join(", ") || "none", "snapshots"],
	]);
	for (const id of ["cmp-a", "cmp-b"]) {
		const sel = $(id), cur = sel.value;
		sel.replaceChildren(...snapshots.map((n) => new Option(n, n)));
		if (snapshots.includes(cur)) sel.value = cur;
	}
	if (snapshots.length > 1 && $("cmp-a").value === $("cmp-b").value) $("cmp-b").value = snapshots[snapshots.length - 1];
	const src = $("flame-source"), cur = src.value;
	const opts = [new Option("live (tracing)", "live")];
	for (const n of snapshots) opts.push(new Option(`snapshot ${n}`, "snap:" + n));
	for (let i = 1; i < snapshots.length; i++)
		opts.push(new Option(`growth ${snapshots[i - 1]} \u2192 ${snapshots[i]}`, `grow:${snapshots[i]}:${snapshots[i - 1]}`));
	src.replaceChildren(...opts);
	if ([...src.options].some((o) => o.value === cur)) src.value = cur;
	if (s.is_tracing) {
		const t = await api("GET", "/debug/tracemalloc/top", { top_n: 20 });
		if (t.status === 200 && seq === traceSeq)
			fill($("trace-top"), t.body.top_allocations.map((a) =>
				row([where(a), [a.line, "code"], [a.count, "num"], [a.size_bytes, "num"]])));
	} else {
		fill($("trace-top"), []);
	}
}

async function traceCall(method, path, params) {
	const r = await api(method, path, params);
	if (r.status >= 400) status(`${path}: ${detail(r.body)}`, true);
	await traceStatus();
}

async function compare() {
	const a = $("cmp-a").value, b = $("cmp-b").value;
	if (!a || !b) return;
	const r = await api("GET", "/debug/tracemalloc/compare", { snapshot1: a, snapshot2: b, top_n: 20 });
	if (r.status !== 200) { status(detail(r.body), true); return; }
	fill($("trace-cmp"), r.body.differences.map((d) =>
		row([where(d), [d.line, "code"], [d.count_diff, "num"], [d.size_diff_bytes, "num"]])));
}

/* ---- Flame graph ------------------------------------------------------------------------ */

let flameRoot = null;

async function flame() {
	const src = $("flame-source").value || "live", params = { value: $("flame-value").value };
	if (src.startsWith("snap:")) params.snapshot = src.slice(5);
	if (src.startsWith("grow:")) { const [, a, b] = src.split(":"); params.snapshot = a; params.base = b; }
	const r = await api("GET", "/debug/tracemalloc/folded", params);
	const msg = $("flame-msg");
	if (r.status !== 200) {
		msg.textContent = detail(r.body);
		msg.className = "msg err";
		return;
	}
	flameRoot = Flame.parse(r.body);
	Flame.zoomed = null;
	msg.className = "msg";
	msg.textContent = flameRoot.value ? `${flameRoot.value} ${params.value} in ${r.body.split("\n").filter(Boolean).length} stacks`
		: "no stacks (nothing traced is live)";
	Flame.draw($("flame"), flameRoot, $("flame-tip"));
}

/* ---- Wiring --------------------------------------------------------------------------------- */

const loaders = { overview, sites, leaks: null, referrers: null, retainers: retainerTypes, trace: traceStatus, flame: traceStatus };

function show(tab) {
	for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === tab);
	for (const s of document.querySelectorAll(".tab")) s.classList.toggle("active", s.id === "tab-" + tab);
	if (loaders[tab]) loaders[tab]();
}

for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.tab));
$("overview-refresh").onclick = overview;
$("sites-refresh").onclick = sites;
$("sites-sort").onchange = sites;
$("leaks-run").onclick = leaks;
$("ref-run").onclick = referrers;
$("ret-run").onclick = () => retainers("");
$("ret-save").onclick = () => retainers("save");
$("ret-since").onclick = () => retainers("since");
$("trace-start").onclick = () => traceCall("POST", "/debug/tracemalloc/start", { frames: $("trace-frames").value });
$("trace-stop").onclick = () => traceCall("POST", "/debug/tracemalloc/stop");
$("trace-snapshot").onclick = () => traceCall("POST", "/debug/tracemalloc/snapshot", { name: $("trace-name").value });
$("trace-compare").onclick = compare;
$("flame-draw").onclick = flame;
window.addEventListener("resize", () => { if (flameRoot) Flame.draw($("flame"), flameRoot, $("flame-tip")); });

overview();
