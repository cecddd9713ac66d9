/**
 * Side information of the MovieLens files, as typed columns aligned with the dense ids
 * of the loaded log (row u of every user column describes user u). Categorical values
 * are codes into a vocabulary; -1 / NaN / '' mean "not given" (an id that appears in
 * the ratings but not in the side file).
 */
export interface UserSide {
  /** Age in years (100K), or the age-group code of ML-1M (1, 18, 25, 35, 45, 50, 56). */
  age: Float32Array;
  gender: Int32Array;
  genderVocab: string[];
  occupation: Int32Array;
  occupationVocab: string[];
  zip: string[];
}

export interface ItemSide {
  title: string[];
  /** Release year (from the date in 100K, from "(1995)" in the title otherwise); NaN if unknown. */
  year: Float32Array;
  /** Genres of item i are genres[genreOffsets[i] .. genreOffsets[i+1]) (codes into genreVocab). */
  genreOffsets: Int32Array;
  genres: Int32Array;
  genreVocab: string[];
}
