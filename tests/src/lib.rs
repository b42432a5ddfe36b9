//! End-to-end suite (origin + wrangler dev), built in the edge issue.
