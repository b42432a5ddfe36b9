//! The Cloudflare Worker in front of the origin (built in the edge issue).
