/**
 * The placements the core's anchoring gives (`tests/shared_fixtures/anchoring.json`,
 * checked by pytest in `tests/test_anchoring.py`): the page must render them
 * as they are, deciding nothing.
 */
import { readFileSync } from 'fs';
import { join } from 'path';

import {
  IAnchorPlacement,
  IAnchorQuery,
  ITextPositionSelector,
  ITextQuoteSelector
} from '../api/wire';

export interface IAnchoringCase {
  name: string;
  text: string | null;
  position: ITextPositionSelector;
  quote: ITextQuoteSelector;
  expected: Pick<IAnchorPlacement, 'status' | 'start' | 'end'>;
}

export const anchoringCases: IAnchoringCase[] = JSON.parse(
  readFileSync(
    join(
      __dirname,
      '..',
      '..',
      '..',
      'tests',
      'shared_fixtures',
      'anchoring.json'
    ),
    'utf-8'
  )
).cases;

/**
 * The server's reply for `items`, taken from the fixture case of the same
 * text and quote (what `POST anchors` answers).
 */
export async function fixturePlacements(
  items: IAnchorQuery[]
): Promise<IAnchorPlacement[]> {
  return items.map(item => {
    const found = anchoringCases.find(
      c => c.text === item.text && c.quote.exact === item.quote.exact
    );
    if (!found) {
      throw new Error(`no fixture case for ${JSON.stringify(item.quote)}`);
    }
    return { id: item.id, score: 1, ...found.expected };
  });
}
