// The console: hash routes over the public API, signed in with a pasted token.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { session } from "./api";
import { ApiKeysPage } from "./pages/api-keys";
import { GroupPage } from "./pages/group";
import { GroupsPage } from "./pages/groups";
import { SignInPage } from "./pages/sign-in";
import { UserPage } from "./pages/user";
import { UsersPage } from "./pages/users";
import { WebhooksPage } from "./pages/webhooks";

function route(hash: string) {
  const path = hash.replace(/^#/, "") || "/groups";
  if (path === "/sign-out") session.clear();
  if (!session.get() || path === "/sign-in" || path === "/sign-out") return <SignInPage />;
  const group = path.match(/^\/groups\/([^/]+)$/);
  if (group) return <GroupPage id={decodeURIComponent(group[1]!)} />;
  if (path === "/api-keys") return <ApiKeysPage />;
  if (path === "/webhooks") return <WebhooksPage />;
  if (path === "/users") return <UsersPage />;
  const user = path.match(/^\/users\/([^/]+)$/);
  if (user) return <UserPage id={decodeURIComponent(user[1]!)} />;
  return <GroupsPage />;
}

function App() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  const page = route(hash); // first: signing out clears the session
  const signedIn = Boolean(session.get());
  return (
    <>
      <header>
        <strong>edge-groups</strong>
        {signedIn && <a href="#/groups">Groups</a>}
        {signedIn && <a href="#/users">Users</a>}
        {signedIn && <a href="#/api-keys">API keys</a>}
        {signedIn && <a href="#/webhooks">Webhooks</a>}
        {signedIn && <a href="#/sign-out">Sign out</a>}
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
