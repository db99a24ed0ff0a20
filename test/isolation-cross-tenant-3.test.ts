// Part 3 of the all-routes cross-tenant walk (isolation/fixture.ts says why it is split).
import { beforeAll, describe } from "vitest";
import { crossTenantWalk, setUpVictim } from "./isolation/fixture";

beforeAll(setUpVictim);

describe("every route of every surface keeps tenants apart", () => crossTenantWalk(3));
