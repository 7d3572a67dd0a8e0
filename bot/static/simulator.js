/* The browser chat window: posts to /simulator/send and shows what the follower would see. */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var chat = document.getElementById("sim-chat");
  var userSelect = document.getElementById("sim-user");
  var input = document.getElementById("sim-input");
  var sendButton = document.getElementById("sim-send");
  var warning = document.getElementById("sim-warning");
  var testers = (document.getElementById("sim-note").dataset.testers || "").split(",").filter(Boolean);
  var STORE = "ipweek-simulator";
  var history = {};
  try { history = JSON.parse(sessionStorage.getItem(STORE) || "{}"); } catch (e) { history = {}; }

  function user() { return userSelect.value; }

  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(history)); } catch (e) { /* storage full or off */ }
  }

  // Text replies may carry <a href="...">links</a>: show those as links, everything else as text.
  function fillText(node, text) {
    var pattern = /<a\s+href="(https?:\/\/[^"]+)"\s*>([^<]*)<\/a>/g;
    var last = 0, match;
    while ((match = pattern.exec(text)) !== null) {
      node.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement("a");
      a.href = match[1];
      a.textContent = match[2];
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      node.appendChild(a);
      last = pattern.lastIndex;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  function bubble(item) {
    var li = document.createElement("li");
    li.className = "msg " + item.side + (item.kind ? " " + item.kind : "");
    var div = document.createElement("div");
    div.className = "bubble";
    fillText(div, item.text);
    li.appendChild(div);
    chat.appendChild(li);
    chat.scrollTop = chat.scrollHeight;
  }

  function add(item) {
    (history[user()] = history[user()] || []).push(item);
    save();
    bubble(item);
  }

  function render() {
    chat.innerHTML = "";
    (history[user()] || []).forEach(bubble);
    warning.hidden = testers.length === 0 || testers.indexOf(user()) !== -1;
  }

  function post(payload, shown) {
    add({side: "me", text: shown, kind: payload.kind === "text" ? "" : "event"});
    sendButton.disabled = true;
    payload.openid = user();
    return fetch(document.getElementById("sim-form").dataset.send, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; }, function () {
        // Not JSON: the page's form token has expired (a logout, a restart) or the login is needed again.
        return {ok: false, data: {error: "页面已过期，请刷新页面后再发送（HTTP " + response.status + "）"}};
      });
    }).then(function (result) {
      if (!result.ok) {
        add({side: "bot", text: "⚠ " + (result.data.error || "发送失败"), kind: "error"});
      } else if (!result.data.content) {
        add({side: "bot", text: "（公众号没有回复）", kind: "event"});
      } else {
        add({side: "bot", text: result.data.content, kind: result.data.msg_type === "news" ? "news" : ""});
      }
    }).catch(function () {
      add({side: "bot", text: "⚠ 无法连接服务器", kind: "error"});
    }).then(function () {
      sendButton.disabled = false;
      input.focus();
    });
  }

  document.getElementById("sim-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    post({kind: "text", content: text}, text);
  });

  document.getElementById("sim-follow").addEventListener("click", function () {
    post({kind: "subscribe"}, "（关注公众号）");
  });

  document.getElementById("sim-clear").addEventListener("click", function () {
    history[user()] = [];
    save();
    render();
  });

  document.getElementById("sim-add").addEventListener("submit", function (event) {
    event.preventDefault();
    var field = document.getElementById("sim-new");
    var openid = field.value.trim();
    // Added users are simulated followers: the server only speaks as test users or "sim-" ids.
    if (openid && testers.indexOf(openid) === -1 && openid.indexOf("sim-") !== 0) { openid = "sim-" + openid; }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(openid)) { field.focus(); return; }
    if (![].some.call(userSelect.options, function (o) { return o.value === openid; })) {
      userSelect.add(new Option(openid, openid));
    }
    userSelect.value = openid;
    field.value = "";
    render();
  });

  userSelect.addEventListener("change", render);

  document.querySelectorAll(".menu-item").forEach(function (item) {
    var sub = item.querySelector(".menu-sub");
    var top = item.querySelector(".menu-top");
    if (sub) {
      top.addEventListener("click", function () {
        var open = sub.hidden;
        document.querySelectorAll(".menu-sub").forEach(function (s) { s.hidden = true; });
        sub.hidden = !open;
      });
    }
  });

  document.querySelectorAll(".menu-btn").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll(".menu-sub").forEach(function (s) { s.hidden = true; });
      if (button.dataset.url) {
        add({side: "me", text: "（打开链接 " + button.dataset.url + "）", kind: "event"});
        return;
      }
      post({kind: "click", key: button.dataset.key}, "（点击菜单「" + button.textContent.trim() + "」）");
    });
  });

  render();
}());
