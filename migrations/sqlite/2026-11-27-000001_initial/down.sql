DROP TABLE users;
DROP TABLE messages;
DROP TABLE mailings;
DROP TABLE client_filters;
DROP TABLE client_tags;
DROP TABLE clients;
DROP TABLE tags;
DROP TABLE operators;
