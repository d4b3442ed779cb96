// searcher's search page, improved: suggestions as you type (keyboard navigable) and the
// sort choice applied at once.  Everything works without this file; it only builds DOM
// nodes with textContent (never innerHTML), so suggestion text stays text.
"use strict";
(function () {
  const root = document.body.dataset.root || "";
  const form = document.getElementById("searchform");
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  const sort = document.getElementById("sort");
  if (sort && form) {
    sort.addEventListener("change", function () {
      if (input && input.value.trim()) form.requestSubmit();
    });
  }
  // No empty parameters in the URL (the server would redirect without them anyway): the
  // empty date boxes, and the default sort, are left out of the submitted form.
  if (form) {
    form.addEventListener("formdata", function (event) {
      const data = event.formData;
      const entries = Array.from(data.entries());
      for (const key of new Set(entries.map(function (pair) { return pair[0]; }))) {
        data.delete(key);
      }
      for (const [key, value] of entries) {
        const empty = typeof value === "string" && !value.trim();
        if (!empty && !(key === "sort" && value === "relevance")) data.append(key, value);
      }
    });
  }
  if (!form || !input || !list) return;
  let items = [];
  let active = -1;
  let timer = 0;
  let seq = 0;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    items = [];
    active = -1;
  }

  // A suggestion is text, not query syntax: a title holding a quote, a bracket, "|" or a
  // leading "-" must not turn into an operator (or an unclosed quote) in the box.  (The
  // server's "query" of a suggestion is that already, with the typed spaces kept.)
  function asQuery(text) {
    return text.replace(/["()|]/g, " ").replace(/(^|\s)-+/g, "$1").replace(/\s+/g, " ").trim();
  }

  function choose(text, query) {
    input.value = query || asQuery(text);
    close();
    form.requestSubmit();
  }

  function highlight(index) {
    active = index;
    items.forEach(function (li, i) {
      li.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0) input.setAttribute("aria-activedescendant", items[index].id);
    else input.removeAttribute("aria-activedescendant");
  }

  function show(suggestions) {
    list.replaceChildren();
    items = suggestions.map(function (s, i) {
      const li = document.createElement("li");
      li.id = "suggestion-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.text = s.text;
      li.dataset.query = s.query || "";
      const text = document.createElement("span");
      text.textContent = s.text;
      li.appendChild(text);
      if (typeof s.count === "number") {
        const count = document.createElement("span");
        count.className = "count";
        count.textContent = String(s.count);
        li.appendChild(count);
      }
      li.addEventListener("mousedown", function (event) {
        event.preventDefault();  // keep the focus in the box
        choose(s.text, s.query);
      });
      list.appendChild(li);
      return li;
    });
    active = -1;
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", items.length ? "true" : "false");
  }

  async function fetchSuggestions() {
    const text = input.value;
    const mine = ++seq;
    if (!text.trim()) { close(); return; }
    try {
      const url = root + "/api/suggest?limit=8&q=" + encodeURIComponent(text);
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok || mine !== seq) return;
      const data = await response.json();
      if (mine === seq && document.activeElement === input) show(data.suggestions || []);
    } catch (err) {
      // offline or server gone: the box still works as a plain search box
    }
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(fetchSuggestions, 120);
  });
  input.addEventListener("keydown", function (event) {
    if (list.hidden || !items.length) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight((active + 1) % items.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight(active <= 0 ? items.length - 1 : active - 1);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      choose(items[active].dataset.text, items[active].dataset.query);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 100); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input &&
        !(event.target instanceof HTMLInputElement)) {
      event.preventDefault();
      input.focus();
    }
  });
})();
