import { InvalidMessageDataError, toBinaryHeaders } from "@dbplane/contracts";
import { errors, headers, MsgHdrsImpl } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage } from "../src/message-codec.ts";
import { paintWidget, widgetCreated } from "./test-messages.ts";

const text = (h: unknown) => new TextDecoder().decode((h as MsgHdrsImpl).encode());

/** What a raw nats.js publisher sends: `headers().set` of each attribute, then msgID. */
function natsJsHeaders(attributes: Parameters<typeof toBinaryHeaders>[0]) {
  const h = headers();
  for (const [name, value] of Object.entries(toBinaryHeaders(attributes))) h.set(name, value);
  h.set("Nats-Msg-Id", attributes.id);
  return h;
}

describe("encodeMessage", () => {
  it("writes the header bytes nats.js's headers().set would, Nats-Msg-Id = ce-id last", () => {
    const time = new Date("2030-01-02T03:04:05.000Z");
    const full = encodeMessage(paintWidget, { widgetId: "w1", color: "red" }, "dbplane/collector", {
      subject: " widget/w1 ",
      id: "op-1:paint",
      time,
      correlationId: "op-1",
      causationId: "msg-0",
    });
    expect(text(full.headers)).toBe(
      text(
        natsJsHeaders({
          id: "op-1:paint",
          type: paintWidget.type,
          source: "dbplane/collector",
          subject: " widget/w1 ",
          time: time.toISOString(),
          specversion: "1.0",
          datacontenttype: "application/json",
          correlationid: "op-1",
          causationid: "msg-0",
        }),
      ),
    );
    // Trimmed like nats.js trims, and read back through MsgHdrs as any consumer does.
    expect(full.headers.get("ce-subject")).toBe("widget/w1");
    expect(full.headers.get("Nats-Msg-Id")).toBe("op-1:paint");

    const bare = encodeMessage(widgetCreated, { widgetId: "w2", size: 1 }, "dbplane/collector", {
      subject: "widget/w2",
    });
    expect(bare.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(bare.headers.has("ce-correlationid")).toBe(false);
    expect(text(bare.headers)).toBe(
      text(
        natsJsHeaders({
          id: bare.id,
          type: widgetCreated.type,
          source: "dbplane/collector",
          subject: "widget/w2",
          time: bare.headers.get("ce-time"),
          specversion: "1.0",
          datacontenttype: "application/json",
        }),
      ),
    );
    const decoded = decodeMessage(
      new Map([[widgetCreated.type, widgetCreated]]),
      MsgHdrsImpl.decode((bare.headers as MsgHdrsImpl).encode()),
      bare.payload,
    );
    expect(decoded.event).toMatchObject({
      id: bare.id,
      subject: "widget/w2",
      data: { widgetId: "w2", size: 1 },
    });
  });

  it("refuses a CR or LF in any value, as nats.js does, so no header can be injected", () => {
    const encode = (options: { subject: string; id?: string; correlationId?: string }) => () =>
      encodeMessage(widgetCreated, { widgetId: "w", size: 1 }, "dbplane/collector", options);
    expect(encode({ subject: "w\r\nNats-Msg-Id: forged" })).toThrow(errors.InvalidArgumentError);
    expect(encode({ subject: "w", id: "a\nb" })).toThrow(errors.InvalidArgumentError);
    expect(encode({ subject: "w", correlationId: "a\rb" })).toThrow(errors.InvalidArgumentError);
  });

  it("validates the data first", () => {
    expect(() =>
      encodeMessage(widgetCreated, { widgetId: 1 }, "dbplane/collector", { subject: "w" }),
    ).toThrow(InvalidMessageDataError);
  });
});
