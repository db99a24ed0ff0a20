// Changes to a tenant's settings that name different settings, sent at once without If-Match:
// each answers with its own change applied, and none is lost (each is merged into the settings
// as the others left them, as if they ran one after another).
import { describe, expect, it } from "vitest";
import { client } from "./helpers";

describe("racing config changes", () => {
  it("keeps every change of settings sent at once", async () => {
    const admin = await client(undefined, { scope: "admin" });
    const changes = [
      { maxGroupsPerUser: 77 },
      { maxMembersPerGroup: 8_888 },
      { maxHierarchyDepth: 9 },
      { eventRetentionDays: 12 },
      { rolesOnGroupsEnabled: false },
      { claim: { name: "team_groups" } },
      { rateLimits: { scimPerMinute: 4_321 } },
      { claim: { overageLimit: 55 } },
    ];
    const answers = await Promise.all(changes.map((change) => admin.patch("/v1/config", change)));
    for (const [i, res] of answers.entries()) {
      expect(res.status, res.text).toBe(200);
      expect(res.json.result).toMatchObject(changes[i]!);
    }
    const stored = (await admin.get("/v1/config")).json.result;
    for (const change of changes) expect(stored).toMatchObject(change);
    // One event per change, each naming the settings as that change found and left them.
    const events = (await admin.get("/v1/events?types=config.updated")).json.result as { before: object; after: object }[];
    expect(events).toHaveLength(changes.length);
    for (const [i, event] of events.entries()) {
      if (i > 0) expect(event.before).toEqual(events[i - 1]!.after);
    }
    expect(events.at(-1)!.after).toEqual(stored);
  });
});
