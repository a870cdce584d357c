// Replaces [data-live-url] blocks with fresh HTML from the server until the block says it is final.
(function () {
  function poll(block) {
    var url = block.getAttribute("data-live-url");
    var delay = parseInt(block.getAttribute("data-live-interval") || "1000", 10);
    fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html.trim();
        var fresh = holder.firstElementChild;
        block.replaceWith(fresh);
        if (fresh.hasAttribute("data-live-url")) { setTimeout(function () { poll(fresh); }, delay); }
      })
      .catch(function () { setTimeout(function () { poll(block); }, delay * 3); });
  }
  document.querySelectorAll("[data-live-url]").forEach(function (block) {
    setTimeout(function () { poll(block); }, parseInt(block.getAttribute("data-live-interval") || "1000", 10));
  });
})();
