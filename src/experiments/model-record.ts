/** The defense part of a results.json model record, the same from `opulab run`, `attack` and `transfer`. */
import type { Network } from '../models/network';
import type { DefenseRecord } from '../../defenses/types';

export interface DefenseFields {
  /** The defense's name: a built-in ('optical') or a plugin's own name ('bit-depth-noise'). */
  defense: string;
  /** Where it comes from (built-in, or the file with its sha256), its parameters and the built-in head under it. */
  defenseInfo: DefenseRecord;
  stochastic: boolean;
}

export function defenseFields(net: Network): DefenseFields {
  return { defense: net.defense.name, defenseInfo: net.defense.record(), stochastic: net.stochastic };
}
