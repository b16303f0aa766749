// Suggest answered questions similar to the title being typed on the ask page. The form works without this.
(function () {
  "use strict";
  var input = document.getElementById("title");
  var box = document.getElementById("similar");
  if (!input || !box || !window.fetch) { return; }
  var list = box.querySelector("ul");
  var timer = null;
  var last = "";

  function render(items) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.title;
      a.target = "_blank";
      a.rel = "noopener";
      li.appendChild(a);
      if (item.department) {
        var span = document.createElement("span");
        span.className = "meta";
        span.textContent = " · " + item.department;
        li.appendChild(span);
      }
      list.appendChild(li);
    });
    box.hidden = items.length === 0;
  }

  function lookup() {
    var title = input.value.trim();
    if (title === last) { return; }
    last = title;
    if (title.length < 2) { render([]); return; }
    fetch(box.getAttribute("data-url") + "?title=" + encodeURIComponent(title), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) { if (input.value.trim() === title) { render(data.items || []); } })
      .catch(function () { render([]); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 300);
  });
})();
