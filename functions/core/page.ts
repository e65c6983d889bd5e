/** One page of a cursor-paginated list: the `{items, next_cursor}` shape of every list the API serves. */
export interface Page<T> {
  items: T[];
  /** Sealed cursor of the next page, `null` on the last one. */
  next_cursor: string | null;
}
