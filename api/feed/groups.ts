/**
 * Subscribers that ask the same operation with the same variables form a group: the group
 * listens to the feed once, executes each event once, serializes the result once, and hands the
 * same bytes to every member's connection. A member only keeps where it is and its connection.
 *
 * Events go through a group one at a time, in log order (each member must receive them in that
 * order); groups run side by side. A member that resumes from a cursor replays what it missed
 * itself, rendered by its group: the renderings of recent events are kept, so members that
 * reconnect together after a restart share them too.
 */
import type { Logger } from "pino";
import type { FeedFilter } from "./filters";
import type { FeedLog } from "./log";
import { startMember, type FeedMember, type FeedSink } from "./member";
import { encodeCursor, type FeedEntry } from "./messages";
import { combine, delivery, INTERNAL_ERROR_RESULT, type Delivery } from "./sinks";
import type { FeedEvent } from "./fanout";

/** Renderings a group keeps for members that replay: about what a burst of reconnects asks. */
const RECENT_DELIVERIES = 256;
/** Events written together at most: a catching-up group still delivers its first events early. */
const BATCH = 100;

export type JoinParameters = {
  /** Members with the same key share executions: the operation and its variables, minus the member's cursor. */
  key: string;
  filter: FeedFilter;
  after: string | null | undefined;
  /** Makes what executes the operation for one event (the JSON a client receives); called only by the member that founds its group. */
  createRender: () => (event: FeedEvent) => Promise<string>;
  sink: FeedSink<Delivery>;
  epoch: string;
};

type Listen = (listener: { filter: FeedFilter; deliver: (entry: FeedEntry) => void }) => () => void;

type Group = {
  members: Set<FeedMember<Delivery>>;
  deliveryFor: (entry: FeedEntry) => Promise<Delivery>;
  close: () => void;
};

export function createGroups({ log, listen, logger, track, member }: { log: FeedLog; listen: Listen; logger: Logger; track: (change: number) => void; member: { maxQueue: number; stallGraceMs: number; logger: Logger; onCutOff: () => void } }) {
  const groups = new Map<string, Group>();

  function createGroup({ key, filter, createRender, epoch }: JoinParameters): Group {
    const render = createRender();
    const members = new Set<FeedMember<Delivery>>();
    const recent = new Map<string, Promise<Delivery>>();
    const deliveryFor = (entry: FeedEntry) => {
      let rendered = recent.get(entry.seq);
      if (!rendered) {
        rendered = render({ ...entry, cursor: encodeCursor(epoch, entry.seq) }).then(delivery);
        recent.set(entry.seq, rendered);
        if (recent.size > RECENT_DELIVERIES) recent.delete(recent.keys().next().value!);
      }
      return rendered;
    };
    const queue: FeedEntry[] = [];
    let pumping = false;
    /**
     * What came together (a block's changes, usually) is rendered, then written to each member in
     * one write: one syscall per socket per batch rather than per event.
     */
    async function pump() {
      pumping = true;
      while (queue.length > 0) {
        const entries = queue.splice(0, BATCH);
        const items: Delivery[] = [];
        for (const entry of entries) {
          // Rendering returns GraphQL errors as a result; a failure beyond is still an event for every member, not a gap.
          items.push(
            await deliveryFor(entry).catch((error: unknown) => {
              logger.error({ msg: "subscription group failed to render an event", err: error });
              return delivery(INTERNAL_ERROR_RESULT);
            }),
          );
        }
        const whole = combine(items);
        for (const each of members) each.offer(entries, items, whole);
      }
      pumping = false;
    }
    const unlisten = listen({
      filter,
      deliver: (entry) => {
        queue.push(entry);
        if (!pumping) void pump();
      },
    });
    return {
      members,
      deliveryFor,
      close: () => {
        unlisten();
        queue.length = 0;
        groups.delete(key);
      },
    };
  }

  return {
    join(parameters: JoinParameters): FeedMember<Delivery> {
      let group = groups.get(parameters.key);
      if (!group) groups.set(parameters.key, (group = createGroup(parameters)));
      const joined = group;
      const started = startMember({
        ...member,
        log,
        epoch: parameters.epoch,
        after: parameters.after,
        accept: parameters.filter.accept,
        render: joined.deliveryFor,
        sink: parameters.sink,
        onRelease: () => {
          joined.members.delete(started);
          track(-1);
          if (joined.members.size === 0) joined.close();
        },
      });
      joined.members.add(started);
      track(1);
      return started;
    },
    count: () => groups.size,
  };
}
