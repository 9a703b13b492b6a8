// SCRAM-SHA-256 against RFC 7677's worked example (user "user", password "pencil"), and the
// refusals of a wrong proof, a changed nonce, channel binding and an unknown role.
import { describe, expect, it } from "vitest";
import {
  createScramVerifier,
  InvalidScramVerifierError,
  parseScramVerifier,
  ScramExchange,
  WireError,
} from "../src/index.ts";

const rfc = {
  salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"),
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

const verifier = parseScramVerifier(createScramVerifier("pencil", { salt: rfc.salt, iterations: 4096 }));

function exchange(user = "user", known = true): ScramExchange {
  return new ScramExchange(user, known ? verifier : undefined, () => rfc.serverNonce);
}

function refusal(run: () => unknown): { code: string; severity: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof WireError) return error.fields;
    throw error;
  }
  throw new Error("no refusal");
}

describe("ScramExchange", () => {
  it("answers RFC 7677's client with RFC 7677's server messages", () => {
    const scram = exchange();
    expect(scram.serverFirst(rfc.clientFirst)).toBe(rfc.serverFirst);
    expect(scram.serverFinal(rfc.clientFinal)).toBe(rfc.serverFinal);
  });

  it("refuses a wrong proof with 28P01, naming the startup's user", () => {
    const scram = exchange("app");
    scram.serverFirst(rfc.clientFirst);
    const wrongProof = rfc.clientFinal.replace("p=dHzb", "p=eHzb");
    expect(refusal(() => scram.serverFinal(wrongProof))).toMatchObject({
      severity: "FATAL",
      code: "28P01",
      message: 'password authentication failed for user "app"',
    });
  });

  it("fails a role without a verifier exactly as a wrong password, even with the right proof", () => {
    const scram = exchange("user", false);
    const serverFirst = scram.serverFirst(rfc.clientFirst);
    expect(serverFirst).toMatch(
      /^r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj\)hNlF\$k0,s=[A-Za-z0-9+/=]+,i=4096$/,
    );
    expect(refusal(() => scram.serverFinal(rfc.clientFinal))).toMatchObject({ code: "28P01" });
  });

  it("gives an unknown role the same salt on every attempt, so it cannot be told from a known one", () => {
    expect(exchange("ghost", false).serverFirst(rfc.clientFirst)).toBe(
      exchange("ghost", false).serverFirst(rfc.clientFirst),
    );
  });

  it("refuses a nonce the server did not give, channel binding it did not offer, a malformed message", () => {
    const scram = exchange();
    scram.serverFirst(rfc.clientFirst);
    expect(refusal(() => scram.serverFinal(rfc.clientFinal.replace("r=rOpr", "r=XOpr")))).toMatchObject({
      code: "08P01",
    });
    expect(refusal(() => exchange().serverFirst("p=tls-server-end-point,,n=,r=abc"))).toMatchObject({
      code: "08P01",
    });
    expect(refusal(() => exchange().serverFirst("n,,n=user"))).toMatchObject({ code: "08P01" });
    expect(refusal(() => exchange().serverFirst("hello"))).toMatchObject({ code: "08P01" });
  });

  it("accepts a client that supports channel binding but saw none offered (y)", () => {
    const scram = exchange();
    scram.serverFirst(rfc.clientFirst.replace(/^n/, "y"));
    // c= must then carry "y,,": the RFC's proof no longer matches, but the message is well formed.
    const final = rfc.clientFinal.replace("c=biws", `c=${Buffer.from("y,,").toString("base64")}`);
    expect(refusal(() => scram.serverFinal(final))).toMatchObject({ code: "28P01" });
  });
});

describe("SCRAM verifiers", () => {
  it("round-trip through PostgreSQL's text form", () => {
    const text = createScramVerifier("pencil", { salt: rfc.salt, iterations: 4096 });
    expect(text).toMatch(
      /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    expect(parseScramVerifier(text)).toEqual(verifier);
  });

  it("refuse other forms without echoing them", () => {
    for (const text of ["md5abc", "SCRAM-SHA-256$4096:c2FsdA==$short:short", "plain-password"]) {
      expect(() => parseScramVerifier(text)).toThrow(InvalidScramVerifierError);
      expect(() => parseScramVerifier(text)).not.toThrow(text);
    }
  });
});
