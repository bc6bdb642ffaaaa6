import { strict as assert } from "node:assert";
import { uniqueTableName } from "../support/hooks";
import { serviceOverTable } from "../support/localService";
import { client } from "../support/http";
import { inMs, schedulesOf, sleep, untilDone } from "../support/schedules";
import { ADMIN_TOKEN } from "../support/tokens";

describe("Scheduled changes across a restart of the local runtime", function () {
  this.timeout(60_000);

  it("applies, exactly once, a schedule that came due while the runtime was down, when it starts", async () => {
    const tableName = uniqueTableName("restart");
    const first = await serviceOverTable(tableName);
    const api = client(first.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: { flagName: "night-flip", value: "day" } });
    const due = await api("POST", "/flags/night-flip/schedules", {
      body: { at: inMs(1_000), change: { value: "night" } },
    });
    const later = await api("POST", "/flags/night-flip/schedules", {
      body: { at: inMs(60_000), change: { value: "morning" } },
    });
    await first.stop();
    await sleep(1_500);

    const second = await serviceOverTable(tableName);
    try {
      const again = client(second.url, ADMIN_TOKEN);
      const applied = await untilDone(again, "night-flip", due.body.id);
      await sleep(500);

      assert.equal(applied.status, "applied");
      const flag = (await again("GET", "/flags/night-flip")).body;
      assert.deepEqual([flag.value, flag.version], ["night", 2]);
      const history = (await again("GET", "/flags/night-flip/history")).body.versions;
      assert.deepEqual(
        history.map((v: { version: number; flag: { value: string } }) => [v.version, v.flag.value]),
        [
          [2, "night"],
          [1, "day"],
        ],
      );
      // The one not yet due is still pending, armed again.
      const pending = (await schedulesOf(again, "night-flip")).find((s) => s.id === later.body.id);
      assert.equal(pending?.status, "pending");
    } finally {
      await second.stop();
    }
  });

  it("applies a schedule once when two runtimes over the same data both find it due", async () => {
    const tableName = uniqueTableName("restart");
    const first = await serviceOverTable(tableName);
    const api = client(first.url, ADMIN_TOKEN);
    await api("POST", "/flags", { body: { flagName: "twice", value: 0 } });
    const { id } = (await api("POST", "/flags/twice/schedules", { body: { at: inMs(800), change: { value: 1 } } }))
      .body;
    await first.stop();
    await sleep(1_000);

    const [a, b] = await Promise.all([serviceOverTable(tableName), serviceOverTable(tableName)]);
    try {
      const applied = await untilDone(client(a.url, ADMIN_TOKEN), "twice", id);
      await sleep(500);

      assert.equal(applied.status, "applied");
      const flag = (await client(b.url, ADMIN_TOKEN)("GET", "/flags/twice")).body;
      assert.deepEqual([flag.value, flag.version], [1, 2]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
