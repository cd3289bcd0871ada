// Sample browsers of the self-contained HTML report (inlined by evaluator/report/html.py): one per
// <section class="samples">, each with its data in <script class="sample-data" type="application/json">
// and its elements found by data-role inside the section. Text is only ever set with textContent,
// so transcripts cannot inject markup.
(function () {
  "use strict";
  document.querySelectorAll("section.samples").forEach(init);

  function init(root) {
    const data = JSON.parse(root.querySelector("script.sample-data").textContent);
    const models = data.models;
    const samples = data.samples;
    const $ = (role) => root.querySelector(`[data-role="${role}"]`);
    const text = $("filter-text"), modelSel = $("filter-model"), onlyErr = $("filter-errors"), sortSel = $("sort");
    const table = $("table"), tbody = table.querySelector("tbody"), count = $("count"), detail = $("detail");
    let selected = null;

    function el(tag, cls, content) {
      const e = document.createElement(tag);
      if (cls) e.className = cls;
      if (content !== undefined && content !== null) e.textContent = content;
      return e;
    }
    function pct(w) { return w === null || w === undefined ? "" : (100 * w).toFixed(1); }
    function chosen() { return modelSel.value === "" ? null : Number(modelSel.value); }
    function results(s) {
      const m = chosen();
      return m === null ? s.r.filter((x) => x) : (s.r[m] ? [s.r[m]] : []);
    }
    function hasErrors(r) { return r.err !== null || r.e > 0; }
    function worst(s) {
      let w = -1;
      for (const r of results(s)) w = Math.max(w, r.err !== null ? Infinity : (r.wer === null ? r.e : r.wer));
      return w;
    }
    function haystack(s) {
      if (s._hay === undefined) {
        s._hay = [s.id, s.ref || ""].concat(s.r.map((r) => (r ? r.h || "" : ""))).map((t) => t.toLowerCase());
      }
      const m = chosen();
      return m === null ? s._hay : [s._hay[0], s._hay[1], s._hay[2 + m]];
    }
    const sorters = {
      order: (a, b) => a.order - b.order,
      wer: (a, b) => worst(b) - worst(a) || a.order - b.order,
      duration: (a, b) => (b.dur || 0) - (a.dur || 0) || a.order - b.order,
      id: (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    };

    function visible() {
      const q = text.value.trim().toLowerCase();
      const rows = samples.filter((s) => {
        const rs = results(s);
        if (!rs.length) return false;
        if (onlyErr.checked && !rs.some(hasErrors)) return false;
        return !q || haystack(s).some((t) => t.includes(q));
      });
      return rows.sort(sorters[sortSel.value]);
    }

    function renderList() {
      const rows = visible();
      const m = chosen();
      tbody.textContent = "";
      table.querySelectorAll("thead th[data-model]").forEach((th) => {
        th.classList.toggle("sel", m !== null && Number(th.dataset.model) === m);
      });
      for (const s of rows) {
        const tr = el("tr");
        tr.dataset.id = s.id;
        tr.dataset.key = s.order;
        tr.tabIndex = 0;
        if (selected === s) tr.classList.add("selected");
        tr.appendChild(el("td", "", s.id));
        tr.appendChild(el("td", "num", s.dur === null ? "" : s.dur.toFixed(1)));
        s.r.forEach((r, i) => {
          const td = el("td", "num");
          if (m !== null && i === m) td.classList.add("sel");
          if (!r) { td.textContent = "–"; } else if (r.err !== null) { td.textContent = "error"; td.classList.add("bad"); } else {
            td.textContent = r.wer === null ? `+${r.e}` : pct(r.wer);
            td.classList.add(r.e === 0 ? "zero" : "bad");
          }
          tr.appendChild(td);
        });
        tr.addEventListener("click", () => show(s));
        tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") show(s); });
        tbody.appendChild(tr);
      }
      count.textContent = `${rows.length} of ${samples.length} samples`;
    }

    function opSpan(kind, ref, hyp) {
      const span = el("span", `op op-${kind}`);
      span.appendChild(el("span", ref === null ? "r gap" : "r", ref === null ? "—" : ref));
      span.appendChild(el("span", hyp === null ? "h gap" : "h", hyp === null ? "—" : hyp));
      const names = { e: "correct", s: "substitution", d: "deletion", i: "insertion" };
      span.title = names[kind];
      return span;
    }

    function alignment(ops) {
      const box = el("div", "alignment");
      for (const op of ops) {
        if (typeof op === "string") {
          for (const w of op.split(" ")) box.appendChild(opSpan("e", w, w));
        } else if (op[0] === "s") box.appendChild(opSpan("s", op[1], op[2]));
        else if (op[0] === "d") box.appendChild(opSpan("d", op[1], null));
        else box.appendChild(opSpan("i", null, op[1]));
      }
      return box;
    }

    function show(s) {
      selected = s;
      tbody.querySelectorAll("tr").forEach((tr) => tr.classList.toggle("selected", Number(tr.dataset.key) === s.order));
      detail.textContent = "";
      const h = el("h3", "", s.id);
      detail.appendChild(h);
      const facts = [s.dur === null ? null : `${s.dur.toFixed(1)} s`, s.lang, s.idx === null ? null : `row ${s.idx}`,
        s.set ? `${s.set[0]}/${s.set[1]}` : null];
      detail.appendChild(el("p", "note", facts.filter((x) => x).join(" · ")));
      const player = audioPlayer(s);
      detail.appendChild(el("div", "ref", s.ref || "(empty reference)"));
      const legend = el("div", "legend");
      [["e", "correct"], ["s", "substitution"], ["d", "deletion"], ["i", "insertion"]].forEach(([k, name]) => {
        const item = el("span");
        item.appendChild(opSpan(k, k === "i" ? null : "ref", k === "d" ? null : "hyp"));
        item.appendChild(document.createTextNode(" " + name));
        legend.appendChild(item);
      });
      detail.appendChild(legend);
      const m = chosen();
      s.r.forEach((r, i) => {
        if (!r || (m !== null && i !== m)) return;
        const block = el("div", "model-block");
        block.dataset.model = models[i];
        const title = el("h4", "", models[i]);
        const stats = r.err !== null ? "error" :
          `WER ${r.wer === null ? "n/a (empty reference)" : pct(r.wer) + "%"} · ${r.s} sub, ${r.d} del, ${r.i} ins`;
        title.appendChild(el("span", "stats", stats));
        for (const f of r.flags) title.appendChild(el("span", "flag", f));
        block.appendChild(title);
        if (player && (r.seams.length || r.skips.length)) block.appendChild(seeks(player, r));
        if (r.err !== null) {
          block.appendChild(el("div", "error-text", r.err));
        } else {
          block.appendChild(alignment(r.ops));
          const raw = el("details", "raw");
          raw.appendChild(el("summary", "", "model output as written"));
          raw.appendChild(el("div", "", r.h || "(empty)"));
          block.appendChild(raw);
        }
        detail.appendChild(block);
      });
    }

    // The sample's audio (embedded or a linked file), or why there is none.
    function audioPlayer(s) {
      const a = s.audio || { note: "no audio" };
      if (!a.src) {
        detail.appendChild(el("p", "audio-missing", `No audio: ${a.note}`));
        return null;
      }
      const player = el("audio");
      player.controls = true;
      player.preload = "metadata";
      player.src = a.src;
      player.dataset.embedded = a.embedded ? "1" : "0";
      detail.appendChild(player);
      return player;
    }

    // Buttons that play a long file from the start of a seam's overlap or of a skipped stretch.
    function seeks(player, r) {
      const box = el("div", "seeks");
      const play = (t) => {
        const go = () => { player.currentTime = t; player.play().catch(() => {}); };
        if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
      };
      for (const [start, kind, cut] of r.seams) {
        const b = el("button", "seek seek-seam", `▶ ${kind} seam ${start.toFixed(1)} s`);
        b.dataset.start = start;
        b.title = `plays from the start of the overlap (${start.toFixed(1)} s); the text switches windows at ` +
          (cut === null ? "an unknown point" : `${cut.toFixed(1)} s`);
        b.addEventListener("click", () => play(start));
        box.appendChild(b);
      }
      for (const [start, words] of r.skips) {
        const b = el("button", "seek seek-skip", `▶ skipped ${words} words ≈ ${start.toFixed(1)} s`);
        b.dataset.start = start;
        b.title = "where the missing words start, estimated from their place in the reference";
        b.addEventListener("click", () => play(start));
        box.appendChild(b);
      }
      return box;
    }

    [text, modelSel, onlyErr, sortSel].forEach((c) => c.addEventListener("input", renderList));
    modelSel.addEventListener("change", () => { renderList(); if (selected) show(selected); });
    renderList();
  }
})();
