/**
 * A payment's status as a badge: the word itself is always there (colour is a hint, never the
 * only signal), and `data-status` carries it for tests and styles.
 */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge status status-${status}`} data-status={status}>
      {status}
    </span>
  );
}
