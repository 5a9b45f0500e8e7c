/* osm-beacon.js (osm-build): fires OSM impressions when seen, swaps prices. See docs/beacon.md. */
(() => {
  if (window.osmBuild) return;

  const { osmMode, osmBfcache } = document.currentScript?.dataset || {};
  const renderMode = osmMode === "render";
  const tracked = new Map(); // message element -> {seen, fired, timer}

  // Seen: 50 % of the message is in the viewport, or in render mode it has a layout box.
  const see = (entries) => {
    for (const entry of entries) {
      const item = tracked.get(entry.target);
      if (item) item.seen = renderMode ? entry.contentRect.width > 0 : entry.intersectionRatio >= 0.5;
    }
    updateAll();
  };
  const observer = renderMode
    ? window.ResizeObserver && new ResizeObserver(see)
    : window.IntersectionObserver && new IntersectionObserver(see, { threshold: 0.5 });

  const send = (url) => {
    try {
      fetch(url, { keepalive: true, mode: "no-cors", credentials: "omit", cache: "no-store" }).catch(() => {});
    } catch (error) {
      new Image().src = url; // fetch is missing or threw synchronously
    }
  };

  // Fires once seen for 1 s (0 in render mode) in a visible page. Any break restarts the timer.
  const update = (item, element) => {
    if (!element.isConnected) tracked.delete(element); // swapped out
    if (!item.seen || item.fired || !element.isConnected || document.prerendering || document.hidden) {
      clearTimeout(item.timer);
      item.timer = 0;
    } else if (!item.timer) {
      item.timer = setTimeout(() => {
        item.timer = 0;
        item.fired = true;
        send(element.dataset.osmImpressionUrl);
      }, renderMode ? 0 : 1000);
    }
  };
  const updateAll = () => tracked.forEach(update);

  const track = (root) => {
    for (const element of root.querySelectorAll("[data-osm-impression-url]")) {
      tracked.set(element, {});
      observer?.observe(element);
    }
    updateAll();
  };

  const templatesOf = (slot) => [...slot.parentNode.querySelectorAll(":scope > template[data-osm-amount]")];

  // The amount is digits, or "" for a variant that no template lists.
  const show = (slot, amount, label) => {
    const template = templatesOf(slot).find((candidate) => candidate.dataset.osmAmount === amount);
    if (slot.dataset.osmAmount !== amount) {
      slot.textContent = "";
      slot.dataset.osmAmount = amount;
      slot.hidden = !template || template.hasAttribute("data-osm-empty");
      if (!slot.hidden) slot.append(template.content.cloneNode(true));
      track(slot);
      if (!template) console.warn(`osm-beacon: no message for ${label} of product ${slot.parentNode.dataset.osmProduct}, so it is hidden. Rebuild with that price in the catalog.`);
    }
    return !!template;
  };

  // Public API, documented in docs/beacon.md.
  const setAmount = (target, amount) => {
    const element = typeof target === "string" ? document.querySelector(target) : target;
    const slot = element?.closest?.("[data-osm-placement]")?.querySelector("[data-osm-slot]");
    if (slot && /^\d+$/.test(amount)) return show(slot, String(amount), `amount ${amount}`);
    console.warn("osm-beacon: invalid setAmount(placement, integer amount in minor units) call:", target, amount);
    return false;
  };

  // Returns the chosen data-osm-amount, else the amount of the value's variant.
  const amountFor = (source, slot) => {
    const amount = (source.selectedOptions?.[0] || source).getAttribute("data-osm-amount");
    if (amount !== null || !source.value) return amount;
    const listsValue = (template) => JSON.parse(template.dataset.osmVariants || "[]").includes(source.value);
    return templatesOf(slot).find(listsValue)?.dataset.osmAmount || "";
  };

  const watch = (placeholder) => {
    const slot = placeholder.querySelector("[data-osm-slot]");
    const sources = document.querySelectorAll(placeholder.dataset.osmWatch);
    if (!slot) return;
    if (!sources.length) console.warn("osm-beacon: data-osm-watch matches no element, so prices will not follow it:", placeholder);
    for (const source of sources) {
      const apply = () => {
        const amount = amountFor(source, slot);
        if (amount !== null) show(slot, amount, amount ? `amount ${amount}` : `variant ${source.value}`);
      };
      if (/^(SELECT|INPUT)$/.test(source.tagName)) {
        source.addEventListener("change", apply);
        if (source.checked !== false) apply(); // a select, or a checked radio button
      } else {
        new MutationObserver(apply).observe(source, { attributeFilter: ["data-osm-amount"] });
        apply();
      }
    }
  };

  window.osmBuild = { setAmount };
  document.addEventListener("visibilitychange", updateAll);
  document.addEventListener("prerenderingchange", updateAll);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && osmBfcache === "count") {
      tracked.forEach((item) => { item.fired = false; });
      updateAll();
    }
  });
  const start = () => {
    track(document);
    document.querySelectorAll("[data-osm-watch]").forEach(watch);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
