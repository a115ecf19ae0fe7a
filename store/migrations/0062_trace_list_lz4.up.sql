-- The trace list's wide columns decompress with LZ4 instead of ZSTD. A page of traces spread over days
-- (a user's, a score filter's) reads ~30-50 granules whole for ~50 rows, and decompressing their previews
-- and facts (~18 MB at 10 M spans) was a third of the page query: 75 -> 50 ms with LZ4. LZ4HC(4) keeps
-- about ZSTD(3)'s size on the seed (36 vs 35 MiB for 3 days) at ~60 MB/s of compression on insert and merge;
-- plain LZ4 doubled it. Parts stored before keep ZSTD until a merge rewrites them or they age out.
ALTER TABLE trace_list MODIFY COLUMN input_preview CODEC(LZ4HC(4)), MODIFY COLUMN output_preview CODEC(LZ4HC(4)),
    MODIFY COLUMN facts CODEC(LZ4HC(4))
