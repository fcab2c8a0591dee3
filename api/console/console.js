// callrep's moderation console: plain DOM, no framework, no CDN. Every
// value from the server is written with textContent, never as HTML.
"use strict";

const texts = {
  en: {
    title: "callrep moderation", queue: "Queue", audit: "Audit log", signout: "Sign out", language: "Language",
    signin_title: "Sign in with a moderator token", signin: "Sign in", status_unresolved: "Open and claimed",
    status_open: "Open", status_claimed: "Claimed", status_resolved: "Resolved", sort_priority: "Priority",
    sort_deadline: "Deadline", sort_newest: "Newest", refresh: "Refresh", number: "Number", kind: "Kind",
    status: "Status", deadline: "Deadline", queue_empty: "No cases.", case: "Case", reputation: "Reputation",
    public_lookup: "Public lookup", verdict: "Verdict", histogram: "Labels per category",
    per_day: "Reports per day and category", contributions: "Largest contributions", reporter: "Reporter",
    category: "Category", source: "Source", weight: "Weight", counted: "Counted", capped: "Capped", flags: "Flags",
    earlier: "Other cases about this number", claim: "Claim", release: "Release", decide_title: "Decision",
    outcome: "Outcome", outcome_upheld: "Upheld: the labels stand", outcome_overturned: "Overturned: clear the labels",
    outcome_relabelled: "Relabelled", outcome_verified_business: "Verified business", category_default: "(default)",
    business_name: "Business name", verified_until: "Verified until", note: "Note", decide: "Decide",
    all_actions: "All actions", when: "When", actor: "Actor", action: "Action", before: "Before", after: "After",
    open: "Open", owner_proven: "proven owner", filer: "Filer", reason: "Reason", identity: "Claimed identity",
    contact: "Contact", evidence: "Evidence", created: "Created", claimed_by: "Claimed by", version: "Version",
    score: "Score", caller_name: "Caller name", spoofed: "caller ID may be spoofed", disputed: "disputed",
    decided: "Decided: {outcome}. The lookup now says {verdict}.", bad_token: "The token was refused.",
    not_moderator: "This token has no moderator role.", none: "none", yes: "yes", no: "no", overdue: "overdue",
    outcome_label: "Outcome", kind_dispute: "dispute", kind_brigading: "brigading", kind_contested: "contested",
    kind_spoofing: "spoofing",
  },
  zh: {
    title: "callrep 审核台", queue: "待审队列", audit: "审计日志", signout: "退出", language: "语言",
    signin_title: "使用审核员令牌登录", signin: "登录", status_unresolved: "待处理与处理中",
    status_open: "待处理", status_claimed: "处理中", status_resolved: "已结案", sort_priority: "优先级",
    sort_deadline: "截止时间", sort_newest: "最新", refresh: "刷新", number: "号码", kind: "类型",
    status: "状态", deadline: "截止时间", queue_empty: "没有案件。", case: "案件", reputation: "信誉",
    public_lookup: "公开查询结果", verdict: "结论", histogram: "各类别标记数",
    per_day: "每日各类别举报数", contributions: "主要贡献", reporter: "举报人",
    category: "类别", source: "来源", weight: "权重", counted: "计入", capped: "限权", flags: "预警",
    earlier: "该号码的其他案件", claim: "认领", release: "释放", decide_title: "裁决",
    outcome: "结果", outcome_upheld: "维持：标记有效", outcome_overturned: "推翻：清除标记",
    outcome_relabelled: "重新标记", outcome_verified_business: "认证企业", category_default: "（默认）",
    business_name: "企业名称", verified_until: "认证有效期至", note: "备注", decide: "提交裁决",
    all_actions: "全部操作", when: "时间", actor: "操作人", action: "操作", before: "之前", after: "之后",
    open: "打开", owner_proven: "已证实机主", filer: "申诉人", reason: "理由", identity: "声称身份",
    contact: "联系方式", evidence: "证据", created: "创建时间", claimed_by: "认领人", version: "版本",
    score: "分数", caller_name: "来电名片", spoofed: "来电号码可能被冒用", disputed: "申诉中",
    decided: "已裁决：{outcome}。公开查询现为 {verdict}。", bad_token: "令牌无效。",
    not_moderator: "该令牌没有审核员权限。", none: "无", yes: "是", no: "否", overdue: "已超期",
    outcome_label: "结果", kind_dispute: "申诉", kind_brigading: "集中刷标记", kind_contested: "证据冲突",
    kind_spoofing: "疑似冒用",
  },
};

let lang = localStorage.getItem("callrep-lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
let token = sessionStorage.getItem("callrep-token") || "";
let current = null; // the case view on screen
let categories = [];

const $ = (id) => document.getElementById(id);
const t = (key, vars) => {
  let s = (texts[lang] && texts[lang][key]) || texts.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
};

function translate() {
  document.documentElement.lang = lang === "zh" ? "zh-Hans" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  $("lang").value = lang;
}

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el("td");
    if (c instanceof Node) td.append(c); else td.textContent = c === undefined ? "" : String(c);
    tr.append(td);
  }
  return tr;
}

function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    dl.append(el("dt", t(k)));
    const dd = el("dd");
    if (v instanceof Node) dd.append(v); else dd.textContent = String(v);
    dl.append(dd);
  }
}

const when = (s) => (s ? new Date(s).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "");

async function call(method, path, body, anonymous) {
  const headers = {};
  if (!anonymous) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error((data.error && data.error.message) || r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

function show(view) {
  for (const v of ["signin-view", "queue-view", "case-view", "audit-view"]) $(v).hidden = v !== view;
  $("nav").hidden = view === "signin-view";
  $("error").textContent = "";
}

function fail(err) {
  if (err.status === 401) { signOut(t("bad_token")); return; }
  $("error").textContent = err.message;
}

function signOut(message) {
  token = "";
  sessionStorage.removeItem("callrep-token");
  show("signin-view");
  $("signin-error").textContent = message || "";
}

async function signIn(ev) {
  ev.preventDefault();
  token = $("token").value.trim();
  try {
    await call("GET", "/v1/moderation/cases?limit=1");
  } catch (err) {
    token = "";
    $("signin-error").textContent = err.status === 403 ? t("not_moderator") : t("bad_token");
    return;
  }
  sessionStorage.setItem("callrep-token", token);
  $("signin-error").textContent = "";
  location.hash = "#/queue";
  route();
}

async function loadQueue() {
  show("queue-view");
  const q = new URLSearchParams({ sort: $("queue-sort").value, limit: "200" });
  if ($("queue-status").value) q.set("status", $("queue-status").value);
  const data = await call("GET", "/v1/moderation/cases?" + q);
  const body = $("queue").tBodies[0];
  body.replaceChildren();
  for (const c of data.cases) {
    const num = el("span", c.number + " ");
    if (c.owner_proven) num.append(el("span", t("owner_proven"), { class: "badge" }));
    const link = el("a", t("open"), { href: "#/case/" + encodeURIComponent(c.id), class: "case-link", "data-case": c.id });
    const deadline = when(c.deadline) + (c.overdue ? " · " + t("overdue") : "");
    body.append(row([num, t("kind_" + c.kind), t("status_" + c.status), deadline, link]));
  }
  $("queue-empty").hidden = data.cases.length > 0;
}

async function loadCase(id) {
  show("case-view");
  const v = await call("GET", "/v1/moderation/cases/" + encodeURIComponent(id));
  current = v;
  const c = v.case;
  $("case-number").textContent = c.number;
  const ev = el("span");
  for (const link of c.evidence) {
    const a = el("a", link, { href: link, rel: "noopener noreferrer", target: "_blank" });
    ev.append(a, " ");
  }
  facts($("case-facts"), [
    ["kind", t("kind_" + c.kind)], ["status", t("status_" + c.status)], ["owner_proven", c.owner_proven ? t("yes") : t("no")],
    ["filer", c.filer], ["identity", c.identity], ["contact", c.contact], ["reason", c.reason],
    ["evidence", c.evidence.length ? ev : ""], ["created", when(c.created_at)], ["deadline", when(c.deadline)],
    ["claimed_by", c.claimed_by], ["version", c.version],
    ["outcome_label", c.decision ? c.decision.outcome + " · " + (c.decision.category || "") : ""],
  ]);
  const r = v.reputation;
  facts($("case-reputation"), [
    ["verdict", r.verdict + (r.spoofed_risk ? " · " + t("spoofed") : "") + (r.disputed ? " · " + t("disputed") : "")],
    ["caller_name", r.caller_name], ["score", r.score], ["category", r.top_category],
  ]);
  const hist = $("histogram");
  hist.replaceChildren();
  for (const [cat, n] of Object.entries(v.histogram).sort((a, b) => b[1] - a[1])) hist.append(el("li", cat + ": " + n));
  drawChart($("chart"), v.daily);
  const cb = $("contributions").tBodies[0];
  cb.replaceChildren();
  for (const x of v.contributions) {
    cb.append(row([x.reporter, x.category, x.source, x.current_weight, x.counted ? t("yes") : t("no"), x.capped || ""]));
  }
  const flags = $("flags");
  flags.replaceChildren();
  for (const f of v.flags) flags.append(el("li", f.reason + " · " + when(f.at)));
  if (!v.flags.length) flags.append(el("li", t("none")));
  const earlier = $("earlier");
  earlier.replaceChildren();
  for (const o of v.earlier) {
    const li = el("li");
    li.append(el("a", t("kind_" + o.kind) + " · " + t("status_" + o.status) + " · " + when(o.created_at), { href: "#/case/" + encodeURIComponent(o.id) }));
    if (o.decision) li.append(" · " + o.decision.outcome);
    earlier.append(li);
  }
  if (!v.earlier.length) earlier.append(el("li", t("none")));
  const resolved = c.status === "resolved";
  $("claim").hidden = c.status !== "open";
  $("release").hidden = c.status !== "claimed";
  $("decision-form").hidden = resolved;
  $("decide-title").hidden = resolved;
  $("decision-result").textContent = "";
  await showPublic(c.number);
}

// showPublic shows what an anonymous phone sees for the number.
async function showPublic(number) {
  const r = await call("GET", "/v1/numbers/" + encodeURIComponent(number), undefined, true);
  $("public-verdict").textContent = r.verdict;
  $("public-name").textContent = [r.caller_name, r.spoofed_risk ? t("spoofed") : "", r.disputed ? t("disputed") : ""]
    .filter(Boolean).join(" · ");
  return r;
}

// Colours of the chart, one per category in the order they appear.
const palette = ["#b3261e", "#e8710a", "#f9ab00", "#1e8e3e", "#1a73e8", "#9334e6", "#5f6368", "#d01884", "#12b5cb", "#7cb342"];

// drawChart draws a stacked bar per day: the labels of each category.
function drawChart(box, daily) {
  box.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const cats = [];
  for (const d of daily) for (const c of Object.keys(d.counts)) if (!cats.includes(c)) cats.push(c);
  cats.sort();
  const max = Math.max(1, ...daily.map((d) => Object.values(d.counts).reduce((a, b) => a + b, 0)));
  const w = Math.max(240, daily.length * 28 + 40), h = 180, base = h - 30;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("per_day"));
  const text = (x, y, s, anchor) => {
    const e = document.createElementNS(ns, "text");
    e.setAttribute("x", x); e.setAttribute("y", y); e.setAttribute("font-size", "10");
    if (anchor) e.setAttribute("text-anchor", anchor);
    e.textContent = s;
    svg.append(e);
  };
  text(4, 12, String(max));
  daily.forEach((d, i) => {
    let y = base;
    const x = 30 + i * 28;
    for (const c of cats) {
      const n = d.counts[c] || 0;
      if (!n) continue;
      const bh = (n / max) * (base - 16);
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", y - bh); rect.setAttribute("width", 20); rect.setAttribute("height", bh);
      rect.setAttribute("fill", palette[cats.indexOf(c) % palette.length]);
      rect.setAttribute("data-category", c);
      const title = document.createElementNS(ns, "title");
      title.textContent = d.day + " " + c + ": " + n;
      rect.append(title);
      svg.append(rect);
      y -= bh;
    }
    text(x + 10, base + 12, d.day.slice(5), "middle");
  });
  box.append(svg);
  const legend = el("div", null, { class: "legend" });
  for (const c of cats) {
    const s = el("span");
    const i = el("i");
    i.style.background = palette[cats.indexOf(c) % palette.length];
    s.append(i, c);
    legend.append(s);
  }
  box.append(legend);
}

async function change(action) {
  const c = current.case;
  await call("POST", "/v1/moderation/cases/" + encodeURIComponent(c.id) + "/" + action, { version: c.version });
  await loadCase(c.id);
}

async function decide(ev) {
  ev.preventDefault();
  const c = current.case;
  const body = { version: c.version, outcome: $("outcome").value };
  if ($("category").value) body.category = $("category").value;
  if ($("note").value.trim()) body.note = $("note").value.trim();
  if ($("business").value.trim()) body.business_name = $("business").value.trim();
  if ($("until").value) body.verified_until = new Date($("until").value + "T00:00:00Z").toISOString();
  try {
    const done = await call("POST", "/v1/moderation/cases/" + encodeURIComponent(c.id) + "/decision", body);
    await loadCase(done.id);
    const r = await showPublic(done.number);
    $("decision-result").textContent = t("decided", { outcome: t("outcome_" + done.decision.outcome), verdict: r.verdict });
  } catch (err) {
    $("decision-result").textContent = err.message;
  }
}

async function loadAudit() {
  show("audit-view");
  const q = new URLSearchParams({ limit: "200" });
  if ($("audit-action").value) q.set("action", $("audit-action").value);
  if ($("audit-number").value.trim()) q.set("number", $("audit-number").value.trim());
  const data = await call("GET", "/v1/moderation/audit?" + q);
  const body = $("audit").tBodies[0];
  body.replaceChildren();
  const snap = (s) => (s ? [s.status, s.outcome, s.verdict, s.caller_name].filter(Boolean).join(" · ") : "");
  for (const e of data.entries) {
    const link = e.case ? el("a", e.case, { href: "#/case/" + encodeURIComponent(e.case) }) : "";
    body.append(row([when(e.at), e.actor, e.action, link, e.number, snap(e.before), snap(e.after)]));
  }
}

async function loadCategories() {
  const data = await call("GET", "/v1/categories", undefined, true);
  categories = data.categories || [];
  const sel = $("category");
  for (const c of categories) sel.append(el("option", c.id, { value: c.id }));
}

async function route() {
  translate();
  if (!token) { show("signin-view"); return; }
  const [, view, id] = location.hash.split("/");
  try {
    if (view === "case" && id) await loadCase(decodeURIComponent(id));
    else if (view === "audit") await loadAudit();
    else await loadQueue();
  } catch (err) {
    fail(err);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut(""));
  $("lang").addEventListener("change", () => {
    lang = $("lang").value;
    localStorage.setItem("callrep-lang", lang);
    route();
  });
  $("queue-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadQueue().catch(fail); });
  $("audit-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit().catch(fail); });
  $("claim").addEventListener("click", () => change("claim").catch(fail));
  $("release").addEventListener("click", () => change("release").catch(fail));
  $("decision-form").addEventListener("submit", decide);
  window.addEventListener("hashchange", route);
  loadCategories().catch(() => {});
  route();
});
