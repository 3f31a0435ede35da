/*
 * Greenroom shell enhancements. Nothing here is needed to navigate: every link and form works
 * without JavaScript. This adds the theme toggle and a "/" shortcut to focus the search box.
 * The initial theme is applied by the inline script in base.html's <head> (no flash).
 */
(function () {
  "use strict";

  var STORAGE_KEY = "greenroom-theme";
  var root = document.documentElement;
  var systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function currentTheme() {
    var explicit = root.getAttribute("data-theme");
    if (explicit === "light" || explicit === "dark") return explicit;
    return systemDark && systemDark.matches ? "dark" : "light";
  }

  function labelToggle(button) {
    var next = currentTheme() === "dark" ? "light" : "dark";
    var label = "Switch to " + next + " theme";
    button.setAttribute("aria-label", label);
    button.setAttribute("title", label);
  }

  function setUpThemeToggle() {
    var buttons = document.querySelectorAll("[data-gr-theme-toggle]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      labelToggle(button);
      button.addEventListener("click", function () {
        var next = currentTheme() === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try {
          localStorage.setItem(STORAGE_KEY, next);
        } catch (e) {
          /* Storage can be blocked (private mode); the choice then lasts for this page only. */
        }
        Array.prototype.forEach.call(buttons, labelToggle);
      });
    });
    if (systemDark && systemDark.addEventListener) {
      systemDark.addEventListener("change", function () {
        Array.prototype.forEach.call(buttons, labelToggle);
      });
    }
  }

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function setUpSearchShortcut() {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
      var input = document.getElementById("gr-global-search");
      if (!input) return;
      event.preventDefault();
      input.focus();
      input.select();
    });
  }

  function init() {
    setUpThemeToggle();
    setUpSearchShortcut();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
