DROP TABLE sender_heartbeats;
