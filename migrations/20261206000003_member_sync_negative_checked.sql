-- When a waiting negative was last read again without being confirmed (the chain had not
-- moved past its first block yet): it is due again one `revoke_confirm` later, not at once, so
-- an unconfirmable negative costs one read per member per `revoke_confirm`, never a spin.
ALTER TABLE member_sync_negatives ADD COLUMN checked_at timestamptz;
