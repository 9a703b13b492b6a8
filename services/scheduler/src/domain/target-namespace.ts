/** A target subject as the user wrote it (`logical`) and as published (`wire`). */
export interface ResolvedSubject {
  /** Without the installation's namespace: what contracts and permissions name (`dbplane.cmd.…`). */
  readonly logical: string;
  /** Inside the installation's namespace: `<ns>.<logical>`, or `logical` when there is none. */
  readonly wire: string;
}

/** A subject that names another installation's dbplane space: `<token>.dbplane…`. */
const FOREIGN_DBPLANE = /^([^.]+)\.dbplane(?:\.|$)/;

/**
 * Puts target subjects inside this installation's namespace, the way the bus names every other
 * subject (`<ns>.dbplane.…`): users write the logical subject (`dbplane.cmd.provisioner.run-backup`,
 * `orders.tick`) and the scheduler publishes `<ns>.<subject>`, so on a shared NATS a job reaches
 * only this installation. A subject written with this installation's own prefix is taken as
 * already inside it (jobs stored before subjects were logical, and the router, name the wire
 * subject). A subject naming another installation's dbplane subjects (`other.dbplane.…`) is
 * refused: with no namespace it would reach that installation, with one it would reach nothing.
 */
export function targetNamespace(namespace: string | undefined) {
  const prefix = namespace ? `${namespace}.` : "";
  return {
    namespace,
    /** The logical and wire subject, or why the subject may not be a target. */
    resolve(subject: string): ResolvedSubject | { readonly problem: string } {
      const logical = prefix && subject.startsWith(prefix) ? subject.slice(prefix.length) : subject;
      const foreign = FOREIGN_DBPLANE.exec(logical);
      if (foreign) {
        const here = namespace ? `its own namespace "${namespace}"` : "no namespace";
        return {
          problem: `names the dbplane subjects of another installation (namespace "${foreign[1]}"): write the subject without a namespace — this scheduler publishes inside ${here}`,
        };
      }
      return { logical, wire: `${prefix}${logical}` };
    },
  };
}

export type TargetNamespace = ReturnType<typeof targetNamespace>;
