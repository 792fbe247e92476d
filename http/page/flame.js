/*
 * flame.js -- a small flame graph on a canvas, for the debug page (inlined
 * into index.html at build time). Input: folded stacks as
 * GET /debug/tracemalloc/folded answers them, "root;...;leaf VALUE" per line.
 *
 *   const fg = Flame.parse(text);        // {name:"all", value, children: Map}
 *   Flame.draw(canvas, fg, tip);         // root at the bottom, widths by value
 *
 * Clicking a frame zooms to it (its width becomes the canvas's); clicking
 * the bottom bar zooms out. Flame.lastDrawn lists the rectangles drawn
 * ({name, value, depth, x, w}) so that tests can check the picture.
 */
"use strict";

const Flame = (() => {
	const ROW = 18;

	/* One node per distinct frame under its parent. */
	function node(name) {
		return { name, value: 0, children: new Map() };
	}

	/* Folded text -> tree. A line is split at its last space: frames may
	 * hold spaces, the value cannot. Malformed lines are counted, skipped. */
	function parse(text) {
		const root = node("all");
		let bad = 0;
		for (const line of text.split("\n")) {
			if (!line) continue;
			const sp = line.lastIndexOf(" ");
			const value = sp > 0 ? Number(line.slice(sp + 1)) : NaN;
			if (!Number.isFinite(value) || value < 0) { bad++; continue; }
			let n = root;
			n.value += value;
			for (const f of line.slice(0, sp).split(";")) {
				let c = n.children.get(f);
				if (!c) { c = node(f); n.children.set(f, c); }
				c.value += value;
				n = c;
			}
		}
		root.bad = bad;
		return root;
	}

	function depthOf(n) {
		let d = 0;
		for (const c of n.children.values()) d = Math.max(d, depthOf(c));
		return d + 1;
	}

	/* A warm colour per name, stable across draws. */
	function colour(name) {
		let h = 0;
		for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
		const r = 205 + (h % 50), g = 80 + ((h >>> 8) % 130), b = 40 + ((h >>> 16) % 50);
		return `rgb(${r},${g},${b})`;
	}

	const api = { parse, lastDrawn: [], zoomed: null };

	function draw(canvas, root, tip) {
		const focus = api.zoomed && api.zoomed.root === root ? api.zoomed.node : root;
		const path = api.zoomed && api.zoomed.root === root ? api.zoomed.path : [root];
		const depth = path.length - 1 + depthOf(focus);
		const width = canvas.parentElement.clientWidth || 1200;
		canvas.width = width;
		canvas.height = Math.max(depth * ROW + 4, 40);
		const ctx = canvas.getContext("2d");
		ctx.clearRect(0, 0, canvas.width, canvas.height);
		ctx.font = "12px system-ui, sans-serif";
		ctx.textBaseline = "middle";
		const rects = [];
		const y = (d) => canvas.height - (d + 1) * ROW;
		function box(n, d, x, w, p) {
			ctx.fillStyle = d === 0 ? "#c9c9c9" : colour(n.name);
			ctx.fillRect(x, y(d), Math.max(w - 1, 0.5), ROW - 1);
			if (w > 30) {
				ctx.fillStyle = "#000";
				ctx.save();
				ctx.beginPath();
				ctx.rect(x, y(d), w - 2, ROW);
				ctx.clip();
				const label = d === 0 ? `all (${root.value})` : n.name;
				ctx.fillText(label, x + 3, y(d) + ROW / 2);
				ctx.restore();
			}
			rects.push({ name: n.name, value: n.value, depth: d, x, w, node: n, path: p });
		}
		/* The path from the root to the focus, full width each. */
		path.forEach((n, d) => box(n, d, 0, width, path.slice(0, d + 1)));
		const scale = focus.value > 0 ? width / focus.value : 0;
		(function children(n, d, x0, p) {
			let x = x0;
			const kids = [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name));
			for (const c of kids) {
				const w = c.value * scale;
				if (w >= 0.5) {
					box(c, d, x, w, p.concat([c]));
					children(c, d + 1, x, p.concat([c]));
				}
				x += w;
			}
		})(focus, path.length, 0, path);
		api.lastDrawn = rects.map(({ name, value, depth, x, w }) => ({ name, value, depth, x, w }));

		const hit = (ev) => {
			const r = canvas.getBoundingClientRect();
			const mx = ev.clientX - r.left, my = ev.clientY - r.top;
			return rects.find((b) => mx >= b.x && mx < b.x + b.w && my >= y(b.depth) && my < y(b.depth) + ROW);
		};
		canvas.onmousemove = (ev) => {
			const b = hit(ev);
			if (!b || !tip) { if (tip) tip.style.display = "none"; return; }
			const pct = root.value ? ((100 * b.value) / root.value).toFixed(2) : "0";
			tip.textContent = `${b.name}: ${b.value} (${pct}%)`;
			tip.style.display = "block";
			tip.style.left = Math.min(ev.offsetX + 12, canvas.width - 300) + "px";
			tip.style.top = ev.offsetY + 12 + "px";
		};
		canvas.onmouseleave = () => { if (tip) tip.style.display = "none"; };
		canvas.onclick = (ev) => {
			const b = hit(ev);
			if (!b) return;
			api.zoomed = b.depth === 0 ? null : { root, node: b.node, path: b.path };
			draw(canvas, root, tip);
		};
	}
	api.draw = draw;
	return api;
})();
