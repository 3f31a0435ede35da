/*
 * Catalog graph: zoom and drag-to-pan for the server-rendered relation graph. Hand-written, no
 * dependencies. Without it the graph is still complete: it fits the width, scrolls, and every node
 * is a plain link.
 */
(function () {
  "use strict";

  var STEP = 1.25;
  var MIN = 0.2;
  var MAX = 4;
  /* Below this, fitting a wide graph to the width makes its text too small to read: start at this
     scale instead and let the reader pan or press Fit. */
  var LEGIBLE = 0.7;

  /* Scroll so the highlighted root entity is in view when the graph is taller or wider than its box. */
  function centerOnRoot(viewport, svg) {
    var root = svg.querySelector(".gr-graph-node.is-root");
    if (!root) return;
    var box = root.getBoundingClientRect();
    var frame = viewport.getBoundingClientRect();
    viewport.scrollTop += box.top + box.height / 2 - (frame.top + frame.height / 2);
    viewport.scrollLeft += box.left + box.width / 2 - (frame.left + frame.width / 2);
  }

  function setUp(figure) {
    if (figure.getAttribute("data-gr-graph-ready")) return;
    figure.setAttribute("data-gr-graph-ready", "1");
    var viewport = figure.querySelector("[data-gr-graph-viewport]");
    var svg = figure.querySelector("[data-gr-graph-svg]");
    var tools = figure.querySelector("[data-gr-graph-tools]");
    if (!viewport || !svg) return;
    centerOnRoot(viewport, svg);
    if (!tools) return;
    var width = parseFloat(svg.getAttribute("width")) || 0;
    var height = parseFloat(svg.getAttribute("height")) || 0;
    var scale = null; /* null = fit to the available width (the CSS default) */

    function apply() {
      if (scale === null) {
        svg.style.width = "";
        svg.style.height = "";
        svg.style.maxWidth = "";
        figure.classList.remove("is-zoomed");
      } else {
        svg.style.maxWidth = "none";
        svg.style.width = width * scale + "px";
        svg.style.height = height * scale + "px";
        figure.classList.add("is-zoomed");
      }
    }

    function current() {
      return scale === null ? svg.getBoundingClientRect().width / width : scale;
    }

    function zoom(factor) {
      var before = current();
      var next = Math.min(MAX, Math.max(MIN, before * factor));
      var cx = viewport.scrollLeft + viewport.clientWidth / 2;
      var cy = viewport.scrollTop + viewport.clientHeight / 2;
      scale = next;
      apply();
      viewport.scrollLeft = (cx * next) / before - viewport.clientWidth / 2;
      viewport.scrollTop = (cy * next) / before - viewport.clientHeight / 2;
    }

    tools.hidden = false;
    if (width && svg.getBoundingClientRect().width / width < LEGIBLE) {
      scale = LEGIBLE;
      apply();
      centerOnRoot(viewport, svg);
    }
    tools.addEventListener("click", function (event) {
      var button = event.target.closest("[data-gr-graph-zoom]");
      if (!button) return;
      var action = button.getAttribute("data-gr-graph-zoom");
      if (action === "in") zoom(STEP);
      else if (action === "out") zoom(1 / STEP);
      else if (action === "reset") {
        scale = 1;
        apply();
      } else {
        scale = null;
        apply();
      }
    });

    /* Drag the background to pan; a press on a node stays a click on its link. */
    var drag = null;
    viewport.addEventListener("pointerdown", function (event) {
      if (event.button !== 0 || event.target.closest("a")) return;
      drag = { x: event.clientX, y: event.clientY, left: viewport.scrollLeft, top: viewport.scrollTop };
      viewport.setPointerCapture(event.pointerId);
      viewport.classList.add("is-panning");
    });
    viewport.addEventListener("pointermove", function (event) {
      if (!drag) return;
      viewport.scrollLeft = drag.left - (event.clientX - drag.x);
      viewport.scrollTop = drag.top - (event.clientY - drag.y);
    });
    function stop() {
      drag = null;
      viewport.classList.remove("is-panning");
    }
    viewport.addEventListener("pointerup", stop);
    viewport.addEventListener("pointercancel", stop);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-gr-graph]"), setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
