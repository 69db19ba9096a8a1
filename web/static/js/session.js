// The join link carries the token once (`/join?token=…`). The shell keeps it
// in sessionStorage (this tab only) and takes it out of the address bar, so
// it is not bookmarked, shared by copy-paste, or left in the history.

const STORAGE_KEY = "plenary.token";

export function takeToken(location = window.location, history = window.history) {
  const url = new URL(location.href);
  const fromLink = url.searchParams.get("token");
  if (fromLink) {
    remember(fromLink);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    return fromLink;
  }
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function remember(token) {
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    /* storage blocked: the token still works for this page load */
  }
}
