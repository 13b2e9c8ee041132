// The page's whole client: list, add and delete through the JSON API.
const list = document.getElementById("list");
const error = document.getElementById("error");

async function call(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = r.status === 204 ? null : await r.json();
  if (!r.ok) throw new Error(data.error);
  return data;
}

async function refresh() {
  const { items } = await call("GET", "/bookmarks?limit=100");
  list.replaceChildren(...items.map((b) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = b.url;
    a.textContent = b.title || b.url;
    li.append(a, ...b.tags.map((t) => {
      const s = document.createElement("span");
      s.className = "tag";
      s.textContent = t;
      return s;
    }));
    const del = document.createElement("button");
    del.textContent = "x";
    del.onclick = () => call("DELETE", "/bookmarks/" + b.id).then(refresh);
    li.append(" ", del);
    return li;
  }));
}

document.getElementById("add").onsubmit = async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const tags = f.get("tags").split(",").map((t) => t.trim()).filter(Boolean);
  try {
    await call("POST", "/bookmarks", { url: f.get("url"), title: f.get("title"), tags });
    error.textContent = "";
    e.target.reset();
    refresh();
  } catch (err) {
    error.textContent = err.message;
  }
};

refresh();
