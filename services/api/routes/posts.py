"""Posts routes (to be written)."""

from fastapi import APIRouter

router = APIRouter(tags=["posts"])
